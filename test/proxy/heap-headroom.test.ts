/** The growing percent that keeps the next full-GC limit HEADROOM above the live heap (pure part of heap-headroom.ts). */
import { describe, expect, it } from 'vitest';
import { growingPercentFor, HEADROOM_BYTES } from '../../src/proxy/heap-headroom.js';

const MB = 1024 * 1024;

describe('growingPercentFor', () => {
  it('puts the limit at least HEADROOM above the live size while the heap is small', () => {
    for (const live of [4 * MB, 12 * MB, 18 * MB, 25 * MB, 40 * MB, 63 * MB]) {
      const percent = growingPercentFor(live);
      const limit = live * (1 + percent / 100);
      expect(limit - live).toBeGreaterThanOrEqual(Math.min(HEADROOM_BYTES, live * 10));
      expect(percent % 10).toBe(0); // steps of 10: the flag is not re-set for every small move
    }
    expect(growingPercentFor(18 * MB)).toBe(360);
  });

  it('bounds the factor for a tiny heap and for nonsense sizes', () => {
    expect(growingPercentFor(1 * MB)).toBe(1_000);
    expect(growingPercentFor(0)).toBe(1_000);
    expect(growingPercentFor(Number.NaN)).toBe(1_000);
  });

  it("hands the choice back to V8 (0) once the headroom needs no more than doubling", () => {
    expect(growingPercentFor(64 * MB)).toBe(0);
    expect(growingPercentFor(500 * MB)).toBe(0);
  });

  it('never grows as the live heap grows', () => {
    let previous = Infinity;
    for (let live = MB; live <= 200 * MB; live += MB / 2) {
      const percent = growingPercentFor(live) || 100; // 0 = V8's own, at most doubling for our purpose
      expect(percent).toBeLessThanOrEqual(previous);
      previous = percent;
    }
  });
});
