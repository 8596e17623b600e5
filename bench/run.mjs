#!/usr/bin/env node
// Veil benchmark: `npm run bench` (= node bench/run.mjs). See bench/README.md.
// Starts everything on 127.0.0.1, runs the scenarios interleaved across proxies (A B C D E, A B C D E, ...),
// prints a markdown table of medians and writes it to bench/results/<date>.md.
import { fork, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintBenchCerts } from './lib/certs.mjs';
import { hwmKb, loadavg1, machineCpu, resetHwm, treeCpuUs, treeRssKb } from './lib/procstat.mjs';
import {
  startMitm, startNginx, startNodeUpstream, startSquid, startVeil, stopProcess, veilSandbox, veilSecret,
} from './lib/services.mjs';

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(benchDir, '..');
const peersDir = join(benchDir, 'peers');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- options
const ALL_PROXIES = ['direct', 'veil', 'veil-quiet', 'mitmproxy', 'squid-bump', 'squid-tunnel'];
function parseArgs(argv) {
  const o = { smoke: false, reps: 3, duration: 3, only: null, proxies: null, install: true, json: null, out: null,
    mintNames: 60, idleConns: 5000, uploadMiB: 256, cacheSandboxes: 30, maxMinutes: 25,
    veilMain: process.env.VEIL_BENCH_MAIN || null, variants: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--smoke') o.smoke = true;
    else if (a === '--reps') o.reps = Math.max(1, Math.min(50, Number(val())));
    else if (a === '--duration') o.duration = Math.max(0.2, Math.min(120, Number(val())));
    else if (a === '--only') o.only = val().split(',').filter(Boolean);
    else if (a === '--proxies') o.proxies = val().split(',').filter(Boolean);
    else if (a === '--no-install') o.install = false;
    else if (a === '--json') o.json = val();
    else if (a === '--out') o.out = val();
    else if (a === '--mint-names') o.mintNames = Math.max(1, Math.min(1000, Number(val())));
    else if (a === '--idle-conns') o.idleConns = Math.max(1, Math.min(9000, Number(val())));
    else if (a === '--upload-mib') o.uploadMiB = Math.max(1, Math.min(4096, Number(val())));
    else if (a === '--veil-main') o.veilMain = resolve(val());
    else if (a === '--variant') {
      // --variant NAME=MAIN[@NODE_FLAG,...]: one more Veil column `v-NAME` (quiet; NAME ending in -info: log level info),
      // for A/B runs of builds or node flags
      const m = /^([a-z0-9][a-z0-9-]*)=([^@]+)(?:@(.*))?$/i.exec(val());
      if (!m) throw new Error('--variant needs NAME=MAIN[@NODE_FLAG,...]');
      o.variants.push({ name: `v-${m[1]}`, main: resolve(m[2]), nodeArgs: m[3] ? m[3].split(',').filter(Boolean) : [] });
    } else if (a === '--max-minutes') o.maxMinutes = Math.max(1, Math.min(120, Number(val())));
    else if (a === '--help' || a === '-h') {
      console.log('usage: node bench/run.mjs [--smoke] [--reps N] [--duration S] [--only scenario,...] [--proxies direct,veil,mitmproxy,squid-bump,squid-tunnel] [--no-install] [--json FILE] [--out FILE] [--mint-names N] [--idle-conns N] [--upload-mib N] [--max-minutes M] [--veil-main PATH] [--variant NAME=MAIN[@NODE_FLAG,...]]...');
      process.exit(0);
    } else throw new Error(`unknown option ${a} (try --help)`);
  }
  if (o.smoke) {
    o.install = false;
    o.reps = argv.includes('--reps') ? o.reps : 1;
    o.proxies = (o.proxies ?? ['direct', 'veil']).filter((p) => p === 'direct' || p === 'veil');
    o.mintNames = Math.min(o.mintNames, 5);
    o.idleConns = Math.min(o.idleConns, 50);
    o.uploadMiB = Math.min(o.uploadMiB, 8);
    o.cacheSandboxes = 3;
    o.maxMinutes = Math.min(o.maxMinutes, 3);
  }
  o.proxies = o.proxies ?? ALL_PROXIES;
  for (const p of o.proxies) if (!ALL_PROXIES.includes(p)) throw new Error(`unknown proxy ${p} (${ALL_PROXIES.join(', ')})`);
  o.proxies = [...o.proxies, ...o.variants.map((v) => v.name)];
  return o;
}

const opts = parseArgs(process.argv.slice(2));
// smoke runs (e.g. from the vitest suite) get their own folder so they never disturb a full run
const work = opts.smoke ? join(benchDir, '.work', `smoke-${process.pid}`) : join(benchDir, '.work');
const t0 = Date.now();
const stamp = () => new Date().toISOString().slice(11, 19);
const progress = (s) => process.stderr.write(`[${stamp()}] ${s}\n`);
const overTime = () => Date.now() - t0 > opts.maxMinutes * 60_000;

// ---------------------------------------------------------------- scenarios
const LOAD = [];
for (const conns of opts.smoke ? [4, 1] : [16, 1]) {
  for (const [scheme, method] of [['http', 'GET'], ['https', 'GET'], ['http', 'POST'], ['https', 'POST']]) {
    LOAD.push({ id: `${scheme}-${method === 'GET' ? 'get' : 'post64k'}-c${conns}`, kind: 'load', scheme, method, conns });
  }
}
const EXTRA = [
  { id: 'mint', kind: 'mint' },
  { id: 'upload', kind: 'upload' },
  { id: 'cache', kind: 'cache' },
  // once, in the last repetition, after everything else: a proxy keeps (and reuses) the memory the first 5,000
  // connections grew, so later "before" figures would be inflated and the per-connection delta meaningless
  { id: 'idle', kind: 'idle', once: true },
];
const selected = (id) => !opts.only || opts.only.some((t) => id === t || id.startsWith(`${t}-`) || (t === 'load' && LOAD.some((s) => s.id === id)));
const scenarios = [...LOAD, ...EXTRA].filter((s) => selected(s.id));
// which proxies each extra scenario runs for (others are noted as skipped)
const EXTRA_PROXIES = {
  mint: ['veil', 'mitmproxy', 'squid-bump'],
  upload: ['direct', 'veil', 'squid-bump', 'squid-tunnel'],
  idle: ['veil', 'squid-bump'],
  cache: ['veil'],
};

// ---------------------------------------------------------------- generator process
class Generator {
  constructor() {
    this.child = fork(join(benchDir, 'lib/loadgen.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.seq = 0;
    this.waiters = new Map();
    this.child.on('message', (m) => {
      const w = this.waiters.get(`${m.id}:${m.type === 'error' ? 'any' : m.type}`) ?? this.waiters.get(`${m.id}:any`);
      if (m.type === 'error') {
        for (const [k, v] of this.waiters) if (k.startsWith(`${m.id}:`)) v.reject(new Error(m.error));
        return;
      }
      w?.resolve(m);
    });
    this.child.on('exit', (code) => {
      for (const v of this.waiters.values()) v.reject(new Error(`load generator exited (${code})`));
    });
  }

  wait(id, type, timeoutMs) {
    return new Promise((resolve, reject) => {
      const key = `${id}:${type}`;
      const t = setTimeout(() => {
        this.waiters.delete(key);
        reject(new Error(`load generator: no ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(key, {
        resolve: (m) => {
          clearTimeout(t);
          this.waiters.delete(key);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(t);
          this.waiters.delete(key);
          reject(e);
        },
      });
    });
  }

  /** prepare -> onReady() -> go -> result; onReady runs right before measuring (CPU snapshot). */
  async run(op, spec, { onReady, onGo, timeoutMs = 180_000, hold } = {}) {
    const id = ++this.seq;
    const ready = this.wait(id, 'ready', timeoutMs);
    this.child.send({ type: 'prepare', id, op, spec });
    const info = (await ready).info;
    if (onReady) await onReady(info);
    const result = this.wait(id, 'result', timeoutMs);
    this.child.send({ type: 'go', id });
    const stop = onGo?.();
    const r = (await result).result;
    stop?.();
    if (hold) {
      await hold(info, r);
      const released = this.wait(id, 'result', timeoutMs);
      this.child.send({ type: 'release', id });
      await released;
    }
    return { info, result: r };
  }

  async close() {
    if (this.child.exitCode === null) {
      this.child.send({ type: 'exit' });
      await Promise.race([new Promise((r) => this.child.once('exit', r)), sleep(2000)]);
      if (this.child.exitCode === null) this.child.kill('SIGKILL');
    }
  }
}

// ---------------------------------------------------------------- helpers
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : '–');
const fmtInt = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${fmt(a / b, 2)}×` : '–');
const sumErrors = (into, errs) => {
  for (const [k, v] of Object.entries(errs ?? {})) into[k] = (into[k] ?? 0) + v;
};
function randomToken(n) {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const b = randomBytes(n * 2);
  let s = '';
  for (let i = 0; s.length < n; i++) if (b[i] < 248) s += abc[b[i] % 62];
  return s;
}
function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- main
const notes = [];
const procs = [];
let gen = null;
let cleaning = null;
function cleanup() {
  cleaning ??= (async () => {
    await gen?.close().catch(() => {});
    for (const p of [...procs].reverse()) await stopProcess(p).catch(() => {});
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    progress(`${sig}: stopping`);
    cleanup().finally(() => process.exit(130));
  });
}

async function main() {
  mkdirSync(work, { recursive: true });
  if (opts.install) {
    progress('bench/setup.sh (installing missing packages; --no-install skips)');
    execFileSync('bash', [join(benchDir, 'setup.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  const runTag = randomToken(6).toLowerCase();
  const certs = await mintBenchCerts(work, { minimal: opts.smoke });

  // names for the certificate-minting scenario: never seen before by any proxy (fresh per run and per rep)
  const mintNames = (rep) => Array.from({ length: opts.mintNames }, (_, i) => `m${runTag}-${rep}-${i}.bench.local`);
  const allMintNames = scenarios.some((s) => s.id === 'mint') ? Array.from({ length: opts.reps }, (_, r) => mintNames(r)).flat() : [];

  // upstream
  let upstream;
  if (opts.smoke) {
    upstream = await startNodeUpstream(work, certs);
    progress(`node upstream on 127.0.0.1:${upstream.httpPort} (http), :${upstream.httpsPort} (https)`);
  } else {
    upstream = await startNginx(work, certs, peersDir);
    progress(`nginx upstream on 127.0.0.1:${upstream.httpPort} (http), :${upstream.httpsPort} (https)`);
  }
  procs.push(upstream.child);
  const target = { host: 'bench.local', connectHost: '127.0.0.1', httpPort: upstream.httpPort, httpsPort: upstream.httpsPort };

  gen = new Generator();
  const P = {}; // proxy name -> {name, pid, spec(scheme), placeholder, secret}
  const peerPlaceholder = `veil_${randomToken(32)}`;
  const peerSecret = `sk-bench-${randomToken(40)}`;

  if (opts.proxies.includes('direct')) {
    P.direct = { name: 'direct', pid: null, placeholder: peerPlaceholder, secret: null, base: { mode: 'direct', ca: [certs.caCert] } };
  }
  for (const name of ['veil', 'veil-quiet', ...opts.variants.map((v) => v.name)]) {
    if (!opts.proxies.includes(name)) continue;
    const variant = opts.variants.find((v) => v.name === name);
    // variants run quiet like veil-quiet, unless their name ends in -info (default log level, access line on)
    const quiet = name === 'veil-quiet' || (variant !== undefined && !name.endsWith('-info'));
    if (quiet && opts.proxies.includes('veil') && !P.veil) {
      notes.push(`veil-quiet: skipped: Veil is not available (see above)`);
      continue;
    }
    progress(`starting veil serve${quiet ? ' (VEIL_LOG_LEVEL=warn)' : ''}`);
    const v = await startVeil(repoRoot, work, certs, allMintNames, variant?.main ?? opts.veilMain, { quiet, name, nodeArgs: variant?.nodeArgs ?? [] }).catch((e) => ({ ok: false, note: String(e.message ?? e) }));
    if (!v.ok) {
      notes.push(`${name}: skipped: ${v.note}`);
      progress(`${name} skipped: ${v.note}`);
    } else {
      procs.push(v.child);
      try {
        const secret = `sk-bench-${randomToken(40)}`;
        const secretName = `BENCH_${runTag.toUpperCase()}`;
        await veilSecret(v, secretName, secret);
        const sb = await veilSandbox(v, secretName);
        P[name] = { name, pid: v.pid, veil: v, secretName, placeholder: sb.placeholder, secret, base: { mode: 'proxy', proxy: { host: v.proxyHost, port: v.proxyPort, auth: sb.auth }, ca: [v.ca] } };
        progress(`${name}: api ${v.apiUrl}, proxy ${v.proxyHost}:${v.proxyPort}, pid ${v.pid}`);
      } catch (e) {
        notes.push(`${name}: skipped: setting up a secret and sandbox failed: ${e.message}`);
        progress(`${name} skipped: ${e.message}`);
        await stopProcess(v.child);
      }
    }
  }
  if (opts.proxies.includes('mitmproxy')) {
    progress('starting mitmdump');
    try {
      const m = await startMitm(work, certs, peersDir, { placeholder: peerPlaceholder, secret: peerSecret });
      procs.push(m.child);
      P.mitmproxy = { name: 'mitmproxy', pid: m.pid, placeholder: peerPlaceholder, secret: peerSecret, base: { mode: 'proxy', proxy: { host: '127.0.0.1', port: m.port, auth: null }, ca: [m.ca] } };
    } catch (e) {
      notes.push(`mitmproxy: skipped: ${e.message}`);
    }
  }
  if (opts.proxies.some((p) => p.startsWith('squid'))) {
    progress('starting squid');
    try {
      const s = await startSquid(work, certs, peersDir, upstream, allMintNames);
      procs.push(s.child);
      if (opts.proxies.includes('squid-bump')) {
        P['squid-bump'] = { name: 'squid-bump', pid: s.pid, placeholder: peerPlaceholder, secret: null, base: { mode: 'proxy', proxy: { host: '127.0.0.1', port: s.bumpPort, auth: null }, ca: [s.ca] } };
      }
      if (opts.proxies.includes('squid-tunnel')) {
        P['squid-tunnel'] = { name: 'squid-tunnel', pid: s.pid, placeholder: peerPlaceholder, secret: null, base: { mode: 'proxy', proxy: { host: '127.0.0.1', port: s.plainPort, auth: null }, ca: [certs.caCert] } };
      }
    } catch (e) {
      notes.push(`squid: skipped: ${e.message}`);
    }
  }

  const spec = (p, scheme, extra = {}) => ({
    ...p.base,
    scheme,
    target,
    placeholder: p.placeholder,
    headers: { Authorization: `Bearer ${p.placeholder}` },
    ...extra,
  });

  // ---- sanity + substitution check, once per proxy, before measuring
  for (const p of Object.values(P)) {
    for (const scheme of ['http', 'https']) {
      const before = readFileSync(upstream.verifyLog, 'utf8').split('\n').filter(Boolean).length;
      const { result: r } = await gen.run('fetch', spec(p, scheme, { method: 'POST', path: '/verify', body: `key=${p.placeholder}` }), { timeoutMs: 30_000 });
      if (r.failures) {
        notes.push(`${p.name}: skipped: ${scheme} check request failed (${r.error ?? `HTTP ${r.status}`})`);
        delete P[p.name];
        break;
      }
      await sleep(50);
      const lines = readFileSync(upstream.verifyLog, 'utf8').split('\n').filter(Boolean);
      const got = lines.slice(before).pop() ?? '';
      if (p.secret) {
        const [auth, ...rest] = got.split('|');
        const body = rest.join('|');
        const headerOk = auth === `Bearer ${p.secret}`;
        const bodyOk = body.includes(`key=${p.secret}`) && !body.includes(p.placeholder);
        progress(`${p.name} ${scheme}: upstream got the real value in header: ${headerOk}, body: ${bodyOk}`);
        if (!headerOk) {
          notes.push(`${p.name}: skipped: over ${scheme} the upstream did not receive the real value in the Authorization header`);
          delete P[p.name];
          break;
        }
        if (!bodyOk) notes.push(`${p.name}: over ${scheme} the body placeholder was NOT substituted (measured anyway)`);
        else if (scheme === 'https') notes.push(`${p.name}: verified: the upstream received the real value (header and body, http and https)`);
      } else if (!got.includes(p.placeholder)) {
        notes.push(`${p.name}: skipped: ${scheme} check did not reach the upstream unchanged`);
        delete P[p.name];
        break;
      }
    }
  }
  const order = [...ALL_PROXIES, ...opts.variants.map((v) => v.name)].filter((n) => P[n]);
  progress(`measuring: ${order.join(', ')}; scenarios: ${scenarios.map((s) => s.id).join(', ')}; reps ${opts.reps}`);

  // ---- measurements, interleaved: for each rep, for each scenario, every proxy in turn
  const R = {}; // scenario id -> proxy -> [rep results]
  const push = (sid, pn, r) => {
    R[sid] ??= {};
    (R[sid][pn] ??= []).push(r);
  };
  let cacheSandboxes = null;
  for (let rep = 0; rep < opts.reps; rep++) {
    for (const sc of scenarios) {
      for (const pn of order) {
        if (sc.kind !== 'load' && !EXTRA_PROXIES[sc.kind].includes(pn)) continue;
        if (sc.once && rep !== opts.reps - 1) continue;
        if (overTime()) {
          if (!notes.some((n) => n.startsWith('time limit'))) notes.push(`time limit (${opts.maxMinutes} min) reached: later runs skipped`);
          continue;
        }
        const p = P[pn];
        try {
          const r = await runOne(sc, p, rep);
          push(sc.id, pn, r);
          progress(`rep ${rep + 1}/${opts.reps} ${sc.id.padEnd(16)} ${pn.padEnd(12)} ${r.summary}`);
        } catch (e) {
          push(sc.id, pn, { failures: 1, errors: { [String(e.message).slice(0, 120)]: 1 } });
          progress(`rep ${rep + 1}/${opts.reps} ${sc.id} ${pn}: ERROR ${e.message}`);
        }
      }
    }
  }

  async function runOne(sc, p, rep) {
    const cpuOf = () => (p.pid ? treeCpuUs(p.pid) : NaN);
    if (sc.kind === 'load') {
      const s = spec(p, sc.scheme, {
        method: sc.method,
        path: sc.method === 'GET' ? '/get' : '/post',
        bodySize: 64 * 1024,
        conns: sc.conns,
        warmup: opts.smoke ? 2 : 10,
        ...(opts.smoke ? { requests: 25 } : { durationMs: opts.duration * 1000 }),
      });
      let c0, m0;
      const { info, result: r } = await gen.run('load', s, {
        onReady: () => {
          c0 = cpuOf();
          m0 = machineCpu();
        },
      });
      const c1 = cpuOf();
      const m1 = machineCpu();
      const out = {
        requests: r.requests,
        rps: r.requests / (r.elapsedUs / 1e6),
        p50: r.latencyUs.p50 / 1000,
        p99: r.latencyUs.p99 / 1000,
        failures: r.failures + (info.warmFailures ?? 0),
        errors: r.errors,
        reconnects: r.reconnects,
        cpuPerReq: r.requests ? (c1 - c0) / r.requests : NaN,
        load1: loadavg1(),
        busyPct: (100 * (m1.busy - m0.busy)) / Math.max(1, m1.total - m0.total),
      };
      out.summary = `${fmtInt(out.rps)} req/s p50 ${fmt(out.p50, 2)} ms p99 ${fmt(out.p99, 2)} ms cpu ${fmtInt(out.cpuPerReq)} us/req fail ${out.failures}`;
      return out;
    }
    if (sc.kind === 'mint') {
      const s = spec(p, 'https', { method: 'GET', path: '/get', headers: {}, names: mintNames(rep) });
      const { result: r } = await gen.run('mint', s, { timeoutMs: 300_000 });
      const out = { firstP50: r.first.p50 / 1000, firstMax: r.first.max / 1000, againP50: r.again.p50 / 1000, n: r.first.n, failures: r.failures, errors: r.errors };
      out.summary = `first p50 ${fmt(out.firstP50, 2)} ms max ${fmt(out.firstMax, 2)} ms, again p50 ${fmt(out.againP50, 2)} ms, fail ${out.failures}`;
      return out;
    }
    if (sc.kind === 'upload') {
      const totalBytes = opts.uploadMiB * 1024 * 1024;
      const s = spec(p, 'https', { path: '/upload', totalBytes });
      let rss0 = NaN;
      let peakSampled = 0;
      let hwmReset = false;
      const { result: r } = await gen.run('upload', s, {
        timeoutMs: 300_000,
        onReady: () => {
          if (p.pid) {
            rss0 = treeRssKb(p.pid);
            hwmReset = resetHwm(p.pid);
          }
        },
        onGo: () => {
          if (!p.pid) return null;
          const t = setInterval(() => {
            peakSampled = Math.max(peakSampled, treeRssKb(p.pid));
          }, 50);
          return () => clearInterval(t);
        },
      });
      const hwm = p.pid && hwmReset ? hwmKb(p.pid) : NaN;
      const out = {
        mibps: r.failures ? NaN : r.bytes / 1048576 / (r.elapsedUs / 1e6),
        rssBeforeMiB: rss0 / 1024,
        peakMiB: Math.max(Number.isFinite(hwm) ? hwm : 0, peakSampled) / 1024 || NaN,
        failures: r.failures,
        errors: r.errors,
      };
      out.summary = `${fmt(out.mibps)} MiB/s, RSS before ${fmt(out.rssBeforeMiB)} MiB, peak ${fmt(out.peakMiB)} MiB, fail ${out.failures}`;
      return out;
    }
    if (sc.kind === 'idle') {
      const s = spec(p, 'https', { method: 'GET', path: '/get', conns: opts.idleConns, concurrency: 50 });
      await sleep(500);
      const before = treeRssKb(p.pid);
      let held = NaN;
      let openCount = 0;
      let setupFailures = 0;
      let errors = {};
      const { result: r } = await gen.run('hold', s, {
        timeoutMs: 300_000,
        onReady: (info) => {
          openCount = info.open;
          setupFailures = info.failures;
          errors = info.errors;
        },
        hold: async () => {
          await sleep(opts.smoke ? 200 : 2000);
          held = treeRssKb(p.pid);
        },
      });
      await sleep(opts.smoke ? 200 : 2000);
      const after = treeRssKb(p.pid);
      const out = {
        open: openCount,
        alive: r.alive,
        rssBeforeMiB: before / 1024,
        rssHeldMiB: held / 1024,
        rssAfterMiB: after / 1024,
        perConnKiB: openCount ? (held - before) / openCount : NaN,
        failures: setupFailures + (openCount - r.alive),
        errors,
      };
      out.summary = `${out.open} open (${out.alive} alive), RSS ${fmt(out.rssBeforeMiB)} -> ${fmt(out.rssHeldMiB)} -> ${fmt(out.rssAfterMiB)} MiB, fail ${out.failures}`;
      return out;
    }
    if (sc.kind === 'cache') {
      cacheSandboxes = [];
      for (let i = 0; i < opts.cacheSandboxes; i++) cacheSandboxes.push(await veilSandbox(p.veil, p.secretName));
      const s = spec(p, 'http', { method: 'GET', path: '/get', headers: {}, auths: cacheSandboxes.map((x) => x.auth) });
      const { result: r } = await gen.run('cache', s, { timeoutMs: 120_000 });
      const out = { missP50: r.miss.p50 / 1000, hitP50: r.hit.p50 / 1000, missMax: r.miss.max / 1000, n: r.miss.n, failures: r.failures, errors: r.errors };
      out.summary = `miss p50 ${fmt(out.missP50, 2)} ms, hit p50 ${fmt(out.hitP50, 2)} ms, fail ${out.failures}`;
      return out;
    }
    throw new Error(`unknown scenario ${sc.kind}`);
  }

  await cleanup();
  return { R, order };
}

// ---------------------------------------------------------------- report
function machineLine() {
  const model = cpus()[0]?.model ?? '?';
  return `nproc ${sh('nproc', []) ?? cpus().length}, Linux ${sh('uname', ['-r']) ?? '?'}, node ${process.version}, ${model}`;
}

function peerVersions() {
  const v = [];
  const nginx = sh('bash', ['-c', 'nginx -v 2>&1']);
  if (nginx) v.push(nginx.replace('nginx version: ', ''));
  const squid = sh('bash', ['-c', 'squid -v 2>/dev/null | head -1']);
  if (squid) v.push(squid.replace('Squid Cache: Version ', 'squid '));
  const mitm = sh('bash', ['-c', 'mitmdump --version 2>/dev/null | head -1']);
  if (mitm) v.push(mitm.replace('Mitmproxy: ', 'mitmproxy '));
  return v.join(', ');
}

function report({ R, order }) {
  const L = [];
  const when = new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  L.push(`# Veil benchmark${opts.smoke ? ' (smoke)' : ''}: ${when}`);
  L.push('');
  L.push(`- machine: ${machineLine()}`);
  if (!opts.smoke) L.push(`- peers: ${peerVersions()}`);
  L.push(`- ${opts.smoke ? 'smoke: request counts, not durations' : `reps ${opts.reps} (interleaved), ${opts.duration} s per run`}; loopback; upstream ${opts.smoke ? 'Node' : 'nginx'} (1 worker); load generator = separate Node process, one persistent connection per worker`);
  L.push(`- proxies measured: ${order.join(', ') || 'none'}`);
  for (const n of notes) L.push(`- ${n}`);
  L.push('');

  const loadIds = LOAD.map((s) => s.id).filter((id) => R[id]);
  if (loadIds.length) {
    L.push(`## Steady load (medians of ${opts.reps})`);
    L.push('');
    L.push('| scenario | proxy | req/s | p50 ms | p99 ms | p50 vs direct | proxy CPU µs/req | CPU vs squid-bump | failures | load1 | busy % |');
    L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const id of loadIds) {
      const med = (pn, k) => median((R[id][pn] ?? []).map((r) => r[k]));
      for (const pn of order) {
        const rs = R[id][pn];
        if (!rs) continue;
        const fails = rs.reduce((a, r) => a + (r.failures ?? 0), 0);
        L.push(`| ${id} | ${pn} | ${fmtInt(med(pn, 'rps'))} | ${fmt(med(pn, 'p50'), 2)} | ${fmt(med(pn, 'p99'), 2)} | ${pn === 'direct' ? '1.00×' : ratio(med(pn, 'p50'), med('direct', 'p50'))} | ${pn === 'direct' ? '–' : fmtInt(med(pn, 'cpuPerReq'))} | ${pn === 'direct' ? '–' : ratio(med(pn, 'cpuPerReq'), med('squid-bump', 'cpuPerReq'))} | ${fails} | ${fmt(med(pn, 'load1'), 2)} | ${fmtInt(med(pn, 'busyPct'))} |`);
      }
    }
    L.push('');
  }
  const rows = (id, header, align, cells) => {
    if (!R[id]) return;
    L.push(header);
    L.push(align);
    for (const pn of order) {
      const rs = R[id][pn];
      if (!rs) continue;
      const med = (k) => median(rs.map((r) => r[k]));
      const fails = rs.reduce((a, r) => a + (r.failures ?? 0), 0);
      L.push(`| ${pn} | ${cells(med, rs).join(' | ')} | ${fails} |`);
    }
    L.push('');
  };
  if (R.mint) {
    L.push(`## First request to a never-seen host (new connection + CONNECT + TLS with a freshly minted certificate), ${opts.mintNames} names per rep`);
    L.push('');
    rows('mint', '| proxy | first p50 ms | first max ms | same names again p50 ms | failures |', '|---|---:|---:|---:|---:|', (m) => [fmt(m('firstP50'), 2), fmt(m('firstMax'), 2), fmt(m('againP50'), 2)]);
  }
  if (R.upload) {
    L.push(`## ${opts.uploadMiB} MiB upload over HTTPS (placeholder in the header and at the start of every MiB)`);
    L.push('');
    rows('upload', '| proxy | MiB/s | proxy RSS before MiB | proxy peak RSS MiB | failures |', '|---|---:|---:|---:|---:|', (m) => [fmt(m('mibps')), fmt(m('rssBeforeMiB')), fmt(m('peakMiB'))]);
  }
  if (R.idle) {
    L.push(`## ${opts.idleConns} idle keep-alive HTTPS client connections (CONNECT + TLS + one GET each, then held); one run, at the end`);
    L.push('');
    rows('idle', '| proxy | open | RSS before MiB | RSS held MiB | KiB per connection | RSS after close MiB | failures |', '|---|---:|---:|---:|---:|---:|---:|', (m) => [fmtInt(m('open')), fmt(m('rssBeforeMiB')), fmt(m('rssHeldMiB')), fmtInt(m('perConnKiB')), fmt(m('rssAfterMiB'))]);
  }
  if (R.cache) {
    L.push(`## Sandbox lookup: first request of a new sandbox (miss) vs. later ones (hit), HTTP, new connection each, ${opts.cacheSandboxes} sandboxes per rep`);
    L.push('');
    rows('cache', '| proxy | miss p50 ms | miss max ms | hit p50 ms | failures |', '|---|---:|---:|---:|---:|', (m) => [fmt(m('missP50'), 2), fmt(m('missMax'), 2), fmt(m('hitP50'), 2)]);
  }
  const skipped = [];
  for (const sc of EXTRA.filter((s) => R[s.id])) {
    const not = order.filter((p) => !EXTRA_PROXIES[sc.kind].includes(p));
    if (not.length) skipped.push(`${sc.id}: not run for ${not.join(', ')}`);
  }
  if (skipped.length) {
    const why = order.includes('mitmproxy') ? ' (mitmproxy buffers whole bodies and costs ~15× squid\'s CPU per request: its large upload and 5,000-connection runs are left out; direct has no proxy to measure)' : ' (direct has no proxy to measure)';
    L.push(`Not run: ${skipped.join('; ')}${why}.`);
    L.push('');
  }
  const errs = {};
  for (const byProxy of Object.values(R)) for (const [pn, rs] of Object.entries(byProxy)) for (const r of rs) for (const [k, v] of Object.entries(r.errors ?? {})) errs[`${pn}: ${k}`] = (errs[`${pn}: ${k}`] ?? 0) + v;
  if (Object.keys(errs).length) {
    L.push('Failures seen:');
    for (const [k, v] of Object.entries(errs)) L.push(`- ${k} (${v}×)`);
    L.push('');
  }
  return L.join('\n');
}

try {
  const res = await main();
  const md = report(res);
  process.stdout.write(md + '\n');
  const out = opts.out ?? join(benchDir, 'results', `${new Date().toISOString().slice(0, 10)}${opts.smoke ? '-smoke' : ''}.md`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, md + '\n');
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ opts, notes, order: res.order, results: res.R }, null, 2));
  if (opts.smoke) rmSync(work, { recursive: true, force: true });
  progress(`wrote ${out} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  process.exit(0);
} catch (e) {
  progress(`bench failed: ${e.stack ?? e}`);
  await cleanup();
  process.exit(1);
}
