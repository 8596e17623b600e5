import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';

/**
 * Keeps V8's full-GC limit at least HEADROOM_BYTES above the live heap while a proxy runs.
 *
 * Why: request bodies live in Buffers outside the JS heap, and node:http copies every body chunk,
 * so a proxy under 64 KiB POSTs allocates ~128 KiB of them per request. V8 counts Buffer memory
 * allocated since the last mark-compact against the old generation's headroom, and frees young
 * Buffers only at a scavenge, which external allocation forces only every ~32 MB. With the limits V8
 * picks for a small heap (live ~18 MB, limit 40-60 MB) that alone starts a full mark-compact about
 * every 100 ms under POST load: measured 10/s and ~20 % of the proxy's CPU (bench/PROFILE.md). Heap
 * limits are fixed when node starts; the growing factor is read at every mark-compact, so setting it
 * from the live size after each one keeps the headroom without node flags.
 */
export const HEADROOM_BYTES = 64 * 1024 * 1024;
/** Bounds the factor for a tiny heap (1 + 10 = 11× live). */
const MAX_PERCENT = 1_000;
/** Percent steps: the flag is only re-set when the live size moved by a step. */
const STEP = 10;

/**
 * The `--heap-growing-percent` that puts the next limit HEADROOM above `liveBytes`, or 0 (V8's own
 * dynamic factor) once that needs less than doubling: a heap that large already gets tens of MB of
 * headroom from V8.
 */
export function growingPercentFor(liveBytes: number, headroom = HEADROOM_BYTES): number {
  if (!(liveBytes > 0)) return MAX_PERCENT;
  const percent = Math.ceil((headroom / liveBytes) * 100 / STEP) * STEP;
  if (percent <= 100) return 0;
  return Math.min(percent, MAX_PERCENT);
}

/** The operator started node with `--heap-growing-percent` (node refuses it in NODE_OPTIONS): theirs wins. */
function operatorChose(): boolean {
  return process.execArgv.some((arg) => /^--heap[-_]growing[-_]percent\b/.test(arg));
}

let holders = 0;
let observer: PerformanceObserver | null = null;
let applied = 0;

function apply(percent: number): void {
  if (percent === applied) return;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  applied = percent;
}

function applyForLiveHeap(): void {
  apply(growingPercentFor(getHeapStatistics().used_heap_size));
}

/**
 * Starts keeping the headroom (once per process, however many proxies run in it); the returned
 * function stops it when the last holder lets go (V8's own factor again). Does nothing when the
 * operator chose a factor.
 */
export function holdHeapHeadroom(): () => void {
  if (operatorChose()) return () => {};
  holders += 1;
  if (holders === 1) {
    applyForLiveHeap();
    observer = new PerformanceObserver((list) => {
      // After a mark-compact the used size is (close to) the live size the next limit is built on.
      if (list.getEntries().some((entry) => (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) {
        applyForLiveHeap();
      }
    });
    observer.observe({ entryTypes: ['gc'] });
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holders -= 1;
    if (holders > 0) return;
    observer?.disconnect();
    observer = null;
    apply(0);
  };
}
