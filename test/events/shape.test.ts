import { describe, expect, it } from 'vitest';
import { parseChangeEvent, toChangeEvent } from '../../src/events/shape.js';

describe('toChangeEvent (the one change-event shape check)', () => {
  it('keeps exactly the known fields of each kind', () => {
    expect(toChangeEvent({ kind: 'secret', orgId: 'o', secretId: 's', value: 'x' })).toEqual({ kind: 'secret', orgId: 'o', secretId: 's' });
    expect(toChangeEvent({ kind: 'sandbox', orgId: 'o', sandboxId: 'b', name: 'n' })).toEqual({ kind: 'sandbox', orgId: 'o', sandboxId: 'b' });
    expect(toChangeEvent({ kind: 'reset', orgId: 'o' })).toEqual({ kind: 'reset' });
  });

  it('rejects anything else', () => {
    for (const bad of [null, undefined, 'reset', 1, [], {}, { kind: 'other' }, { kind: 'secret', orgId: 'o' }, { kind: 'sandbox', orgId: 1, sandboxId: 'b' }]) {
      expect(toChangeEvent(bad)).toBeNull();
    }
  });

  it('is what the SSE client applies to a change line', () => {
    expect(parseChangeEvent('{"kind":"secret","orgId":"o","secretId":"s","extra":1}')).toEqual({ kind: 'secret', orgId: 'o', secretId: 's' });
    expect(parseChangeEvent('not json')).toBeNull();
    expect(parseChangeEvent('{"kind":"secret"}')).toBeNull();
  });
});
