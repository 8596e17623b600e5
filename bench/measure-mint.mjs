#!/usr/bin/env node
/**
 * Measures what minting a never-seen host costs: event-loop blocking per mint and mints/s.
 * Not a test (no assertions on time); run by hand after `npm run build` and read the figures:
 *   node bench/measure-mint.mjs [count=500] [concurrency=16]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createSecureContext } from 'node:tls';

const count = Number(process.argv[2] ?? 500);
const concurrency = Number(process.argv[3] ?? 16);
const work = await mkdtemp(join(tmpdir(), 'veil-measure-mint-'));
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (value) => value.toFixed(3);

try {
  const { loadOrCreateCertificateAuthority } = await import(new URL('../dist/ca/index.js', import.meta.url).href);

  let started = performance.now();
  const ca = await loadOrCreateCertificateAuthority({ dir: join(work, 'certs') });
  console.log(`first start (CA + leaf key generation): ${ms(performance.now() - started)} ms`);
  started = performance.now();
  await loadOrCreateCertificateAuthority({ dir: join(work, 'certs') });
  console.log(`second start (load CA + leaf key generation): ${ms(performance.now() - started)} ms`);
  for (let i = 0; i < 50; i++) await ca.secureContextFor(`warmup${i}.example.com`); // JIT warm-up

  // 1. Sequential mints: the synchronous part of each call, and the loop's total active time per mint.
  const syncParts = [];
  const eluBefore = performance.eventLoopUtilization();
  started = performance.now();
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const pending = ca.secureContextFor(`seq${i}.measure.example.com`);
    syncParts.push(performance.now() - t0);
    await pending;
  }
  const sequentialMs = performance.now() - started;
  const elu = performance.eventLoopUtilization(eluBefore);
  syncParts.sort((a, b) => a - b);
  console.log(`sequential, ${count} new hosts: ${ms(sequentialMs / count)} ms/mint wall, ${(count / (sequentialMs / 1000)).toFixed(0)} mints/s`);
  console.log(`  sync part of secureContextFor (normalize + forge TBS + DER): p50 ${ms(percentile(syncParts, 50))} ms, p99 ${ms(percentile(syncParts, 99))} ms, max ${ms(syncParts.at(-1))} ms`);
  console.log(`  event loop active per mint (all sync work incl. createSecureContext): ${ms(elu.active / count)} ms (utilization ${(elu.utilization * 100).toFixed(0)}%)`);

  // 2. createSecureContext on its own (key + cert PEM parsing), the other synchronous step.
  const keyPem = await readFile(join(work, 'certs', 'ca-key.pem'), 'utf8');
  const contextTimes = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    createSecureContext({ key: keyPem, cert: ca.certPem, minVersion: 'TLSv1.2' });
    contextTimes.push(performance.now() - t0);
  }
  contextTimes.sort((a, b) => a - b);
  console.log(`  createSecureContext alone (RSA 2048 key + cert): p50 ${ms(percentile(contextTimes, 50))} ms, max ${ms(contextTimes.at(-1))} ms`);

  // 3. Concurrent mints: throughput and event-loop delay while signing runs in the thread pool.
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await ca.secureContextFor(`par${next++}.measure.example.com`);
    }),
  );
  const concurrentMs = performance.now() - started;
  histogram.disable();
  console.log(`concurrent (${concurrency} in flight), ${count} new hosts: ${(count / (concurrentMs / 1000)).toFixed(0)} mints/s`);
  console.log(`  event-loop delay: p50 ${ms(histogram.percentile(50) / 1e6)} ms, p99 ${ms(histogram.percentile(99) / 1e6)} ms, max ${ms(histogram.max / 1e6)} ms`);

  // 4. Cache hits, for comparison: the most recently minted names, which are still cached.
  const hits = [];
  const hitsBefore = ca.stats().hits;
  for (let i = Math.max(0, count - 500); i < count; i++) {
    const t0 = performance.now();
    await ca.secureContextFor(`par${i}.measure.example.com`);
    hits.push(performance.now() - t0);
  }
  if (ca.stats().hits - hitsBefore !== hits.length) throw new Error('expected every lookup in the hit phase to be a cache hit');
  hits.sort((a, b) => a - b);
  console.log(`cache hit: p50 ${ms(percentile(hits, 50))} ms, max ${ms(hits.at(-1))} ms`);
  console.log(`UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}; node ${process.version}; stats ${JSON.stringify(ca.stats())}`);
} finally {
  await rm(work, { recursive: true, force: true });
}
