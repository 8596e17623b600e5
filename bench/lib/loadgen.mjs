// Load generator, run as a separate process (child_process.fork) so its CPU is not the proxy's.
//
// Each worker owns exactly ONE persistent connection:
//  - direct http:  plain keep-alive socket to the upstream
//  - direct https: tls.connect to the upstream, keep-alive
//  - proxy http:   keep-alive socket to the proxy, absolute-form requests (GET http://host:port/path)
//  - proxy https:  CONNECT host:port on a socket to the proxy, then tls.connect over that socket, keep-alive
// TCP_NODELAY on every socket. Per-request latency is recorded; any non-2xx, socket error or timeout is a failure
// (the worker then re-dials, counted as a reconnect).
//
// Parent protocol (IPC messages): {type:'prepare', id, op, spec} -> {type:'ready', id}
//                                 {type:'go', id} -> {type:'result', id, result}
//                                 {type:'release', id} (op 'hold' only) -> {type:'result', ...}
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

const REQUEST_TIMEOUT_MS = 15_000;

// ---------------------------------------------------------------- response parser
class ResponseParser {
  constructor() {
    this.buf = null;
    this.state = 'head';
    this.remaining = 0;
    this.status = 0;
    this.close = false;
    this.onResponse = null; // (status, close) => void
    this.onError = null;
    this.bodyBytes = 0;
    this.keepBody = false;
    this.body = [];
  }

  feed(chunk) {
    let buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    let off = 0;
    for (;;) {
      if (this.state === 'head') {
        const i = buf.indexOf('\r\n\r\n', off);
        if (i < 0) break;
        const head = buf.toString('latin1', off, i);
        off = i + 4;
        const lines = head.split('\r\n');
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
        if (!m) {
          this.onError?.(new Error(`bad status line: ${JSON.stringify((lines[0] ?? '').slice(0, 60))}`));
          this.buf = null;
          return;
        }
        this.status = Number(m[1]);
        let len = -1;
        let chunked = false;
        this.close = /^HTTP\/1\.0/.test(lines[0]);
        for (let k = 1; k < lines.length; k++) {
          const line = lines[k];
          const c = line.indexOf(':');
          if (c < 0) continue;
          const name = line.slice(0, c).trim().toLowerCase();
          const value = line.slice(c + 1).trim().toLowerCase();
          if (name === 'content-length') len = Number(value);
          else if (name === 'transfer-encoding') chunked = value.includes('chunked');
          else if (name === 'connection') this.close = value.includes('close') ? true : value.includes('keep-alive') ? false : this.close;
        }
        this.bodyBytes = 0;
        this.body = [];
        if (this.status >= 100 && this.status < 200) continue; // 100 Continue: wait for the real head
        if (chunked) this.state = 'chunksize';
        else if (len > 0) {
          this.state = 'body';
          this.remaining = len;
        } else if (len === 0 || this.status === 204 || this.status === 304) {
          this.complete();
        } else {
          this.state = 'untilclose';
        }
        continue;
      }
      if (this.state === 'body' || this.state === 'chunkdata') {
        const n = Math.min(this.remaining, buf.length - off);
        if (this.keepBody) this.body.push(buf.subarray(off, off + n));
        this.remaining -= n;
        this.bodyBytes += n;
        off += n;
        if (this.remaining > 0) break;
        if (this.state === 'body') this.complete();
        else this.state = 'chunkcrlf';
        continue;
      }
      if (this.state === 'chunkcrlf') {
        if (buf.length - off < 2) break;
        off += 2;
        this.state = 'chunksize';
        continue;
      }
      if (this.state === 'chunksize') {
        const i = buf.indexOf('\r\n', off);
        if (i < 0) break;
        const size = parseInt(buf.toString('latin1', off, i), 16);
        off = i + 2;
        if (!(size >= 0)) {
          this.onError?.(new Error('bad chunk size'));
          this.buf = null;
          return;
        }
        if (size === 0) this.state = 'trailer';
        else {
          this.state = 'chunkdata';
          this.remaining = size;
        }
        continue;
      }
      if (this.state === 'trailer') {
        const i = buf.indexOf('\r\n', off);
        if (i < 0) break;
        if (i === off) {
          off += 2;
          this.complete();
        } else off = i + 2;
        continue;
      }
      if (this.state === 'untilclose') {
        this.bodyBytes += buf.length - off;
        if (this.keepBody) this.body.push(buf.subarray(off));
        off = buf.length;
        break;
      }
      break;
    }
    this.buf = off >= buf.length ? null : buf.subarray(off);
  }

  ended() {
    if (this.state === 'untilclose') {
      this.close = true;
      this.complete();
      return true;
    }
    return false;
  }

  complete() {
    this.state = 'head';
    this.onResponse?.(this.status, this.close, this.keepBody ? Buffer.concat(this.body).toString('utf8') : '');
  }
}

// ---------------------------------------------------------------- connections
function once(emitter, ok, fail = 'error') {
  return new Promise((resolve, reject) => {
    const onOk = (...a) => {
      emitter.off(fail, onFail);
      resolve(a);
    };
    const onFail = (e) => {
      emitter.off(ok, onOk);
      reject(e);
    };
    emitter.once(ok, onOk);
    emitter.once(fail, onFail);
  });
}

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p,
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

async function connectThroughProxy(spec, host, port) {
  const sock = net.connect({ host: spec.proxy.host, port: spec.proxy.port });
  sock.setNoDelay(true);
  await once(sock, 'connect');
  const auth = spec.proxy.auth ? `Proxy-Authorization: ${spec.proxy.auth}\r\n` : '';
  sock.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n${auth}\r\n`);
  const head = await new Promise((resolve, reject) => {
    let acc = Buffer.alloc(0);
    const onData = (d) => {
      acc = Buffer.concat([acc, d]);
      const i = acc.indexOf('\r\n\r\n');
      if (i >= 0) {
        cleanup();
        if (i + 4 !== acc.length) sock.unshift(acc.subarray(i + 4));
        resolve(acc.toString('latin1', 0, i));
      }
    };
    const onErr = (e) => {
      cleanup();
      reject(e);
    };
    const onEnd = () => {
      cleanup();
      reject(new Error('proxy closed during CONNECT'));
    };
    const cleanup = () => {
      sock.off('data', onData);
      sock.off('error', onErr);
      sock.off('end', onEnd);
      sock.pause();
    };
    sock.on('data', onData);
    sock.on('error', onErr);
    sock.on('end', onEnd);
  });
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
  if (status !== '200') {
    sock.destroy();
    throw new Error(`CONNECT answered ${status ?? JSON.stringify(head.slice(0, 40))}`);
  }
  return sock;
}

const caCache = new Map();
function caOf(files) {
  const key = (files ?? []).join('|');
  if (!caCache.has(key)) caCache.set(key, (files ?? []).map((f) => readFileSync(f, 'utf8')));
  return caCache.get(key);
}

/** Opens one connection as the spec says; resolves to a socket ready for HTTP/1.1 requests. */
async function openSocket(spec, host = spec.target.host) {
  const port = spec.scheme === 'https' ? spec.target.httpsPort : spec.target.httpPort;
  let sock;
  if (spec.mode === 'direct') {
    if (spec.scheme === 'https') {
      sock = tls.connect({ host: spec.target.connectHost, port, servername: host, ca: caOf(spec.ca), ALPNProtocols: ['http/1.1'] });
      await once(sock, 'secureConnect');
    } else {
      sock = net.connect({ host: spec.target.connectHost, port });
      await once(sock, 'connect');
    }
    sock.setNoDelay(true);
    return sock;
  }
  if (spec.scheme === 'https') {
    const raw = await connectThroughProxy(spec, host, port);
    sock = tls.connect({ socket: raw, servername: host, ca: caOf(spec.ca), ALPNProtocols: ['http/1.1'] });
    try {
      await once(sock, 'secureConnect');
    } catch (e) {
      raw.destroy();
      throw e;
    }
    return sock;
  }
  sock = net.connect({ host: spec.proxy.host, port: spec.proxy.port });
  sock.setNoDelay(true);
  await once(sock, 'connect');
  return sock;
}

/** The request bytes (head + body) for spec on a connection to `host`. */
function buildRequest(spec, host = spec.target.host, opts = {}) {
  const port = spec.scheme === 'https' ? spec.target.httpsPort : spec.target.httpPort;
  const method = opts.method ?? spec.method;
  const path = opts.path ?? spec.path;
  const absolute = spec.mode === 'proxy' && spec.scheme === 'http';
  const target = absolute ? `http://${host}:${port}${path}` : path;
  let head = `${method} ${target} HTTP/1.1\r\nHost: ${host}:${port}\r\nUser-Agent: veil-bench\r\n`;
  const auth = opts.proxyAuth ?? spec.proxy?.auth;
  if (absolute && auth) head += `Proxy-Authorization: ${auth}\r\n`;
  for (const [k, v] of Object.entries(spec.headers ?? {})) head += `${k}: ${v}\r\n`;
  let body = null;
  if (opts.body != null) body = Buffer.from(opts.body);
  else if (method === 'POST') body = makeBody(spec.bodySize ?? 0, spec.placeholder);
  if (body) head += `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n`;
  head += '\r\n';
  return body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1');
}

function makeBody(size, placeholder) {
  const b = Buffer.alloc(size, 'a'.charCodeAt(0));
  const prefix = Buffer.from(`key=${placeholder ?? 'none'}&pad=`);
  prefix.copy(b, 0, 0, Math.min(prefix.length, size));
  return b;
}

class Conn {
  constructor(spec, host) {
    this.spec = spec;
    this.host = host;
    this.sock = null;
    this.pending = null;
    this.parser = new ResponseParser();
    this.parser.onResponse = (status, close, body) => this.settle(null, status, close, body);
    this.parser.onError = (e) => this.fail(e);
  }

  async open() {
    this.sock = await withTimeout(openSocket(this.spec, this.host), REQUEST_TIMEOUT_MS, 'connect');
    const sock = this.sock;
    sock.on('data', (d) => {
      if (this.sock === sock) this.parser.feed(d);
    });
    sock.on('error', (e) => {
      if (this.sock === sock) this.fail(e);
    });
    sock.on('close', () => {
      if (this.sock !== sock) return;
      if (!this.parser.ended()) this.fail(new Error('connection closed by peer'));
      this.sock = null;
    });
    sock.resume();
  }

  fail(e) {
    const p = this.pending;
    this.pending = null;
    this.sock?.destroy();
    this.sock = null;
    this.parser = new ResponseParser();
    this.parser.onResponse = (status, close, body) => this.settle(null, status, close, body);
    this.parser.onError = (err) => this.fail(err);
    p?.reject(e);
  }

  settle(err, status, close, body) {
    const p = this.pending;
    this.pending = null;
    if (close) {
      this.sock?.destroy();
      this.sock = null;
    }
    p?.resolve({ status, body });
  }

  /** Sends bytes, resolves to {status, body} of the response. */
  request(bytes, keepBody = false) {
    if (!this.sock) return Promise.reject(new Error('not connected'));
    this.parser.keepBody = keepBody;
    const p = new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
    });
    this.sock.write(bytes);
    return withTimeout(p, REQUEST_TIMEOUT_MS, 'request').catch((e) => {
      this.fail(e);
      throw e;
    });
  }

  close() {
    this.pending = null;
    this.sock?.destroy();
    this.sock = null;
  }
}

// ---------------------------------------------------------------- stats
export function percentile(sorted, q) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

function summarize(lat) {
  const s = Float64Array.from(lat).sort();
  return {
    n: s.length,
    p50: percentile(s, 0.5),
    p90: percentile(s, 0.9),
    p99: percentile(s, 0.99),
    max: s.length ? s[s.length - 1] : NaN,
    mean: s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN,
  };
}

function noteError(errors, e) {
  const msg = String(e?.message ?? e).slice(0, 120);
  errors[msg] = (errors[msg] ?? 0) + 1;
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

// ---------------------------------------------------------------- ops
/** Steady load: spec.conns workers, each on one persistent connection, for spec.durationMs or spec.requests each. */
function loadOp(spec) {
  const bytes = buildRequest(spec);
  const conns = Array.from({ length: spec.conns }, () => new Conn(spec));
  const errors = {};
  let failures = 0;
  let reconnects = 0;
  const ok2xx = (r) => r.status >= 200 && r.status < 300;

  async function one(c) {
    if (!c.sock) {
      reconnects++;
      await c.open();
    }
    const r = await c.request(bytes);
    if (!ok2xx(r)) throw new Error(`HTTP ${r.status}`);
  }

  return {
    async prepare() {
      const warm = spec.warmup ?? 5;
      await mapLimit(conns, 64, async (c) => {
        await c.open();
        for (let i = 0; i < warm; i++) {
          try {
            await one(c);
          } catch (e) {
            failures++;
            noteError(errors, e);
          }
        }
      });
      const warmFailures = failures;
      failures = 0;
      reconnects = 0;
      return { warmFailures };
    },
    async go() {
      const lat = [];
      const t0 = nowUs();
      const deadline = spec.durationMs ? t0 + spec.durationMs * 1000 : Infinity;
      const perWorker = spec.requests ?? Infinity;
      await Promise.all(
        conns.map(async (c) => {
          for (let i = 0; i < perWorker && nowUs() < deadline; i++) {
            const s = nowUs();
            try {
              await one(c);
              lat.push(nowUs() - s);
            } catch (e) {
              failures++;
              noteError(errors, e);
              await sleep(10);
            }
          }
        }),
      );
      const elapsedUs = nowUs() - t0;
      for (const c of conns) c.close();
      return { requests: lat.length, failures, reconnects, errors, elapsedUs, latencyUs: summarize(lat) };
    },
  };
}

/** First request to never-seen names (a new connection each), then again to the same names (certificate cached). */
function mintOp(spec) {
  return {
    async prepare() {
      return {};
    },
    async go() {
      const errors = {};
      let failures = 0;
      const pass = async () => {
        const lat = [];
        for (const name of spec.names) {
          const s = nowUs();
          const c = new Conn(spec, name);
          try {
            await c.open();
            const r = await c.request(buildRequest(spec, name));
            if (r.status < 200 || r.status >= 300) throw new Error(`HTTP ${r.status}`);
            lat.push(nowUs() - s);
          } catch (e) {
            failures++;
            noteError(errors, e);
          } finally {
            c.close();
          }
        }
        return summarize(lat);
      };
      const first = await pass();
      const again = await pass();
      return { requests: first.n + again.n, failures, errors, first, again };
    },
  };
}

/** Lookup cache: for each sandbox, a new connection + request (miss), then another new connection + request (hit). */
function cacheOp(spec) {
  return {
    async prepare() {
      return {};
    },
    async go() {
      const errors = {};
      let failures = 0;
      const miss = [];
      const hit = [];
      const timed = async (auth, into) => {
        const s = nowUs();
        const c = new Conn({ ...spec, proxy: { ...spec.proxy, auth } });
        try {
          await c.open();
          const r = await c.request(buildRequest({ ...spec, proxy: { ...spec.proxy, auth } }));
          if (r.status < 200 || r.status >= 300) throw new Error(`HTTP ${r.status}`);
          into.push(nowUs() - s);
        } catch (e) {
          failures++;
          noteError(errors, e);
        } finally {
          c.close();
        }
      };
      for (const auth of spec.auths) {
        await timed(auth, miss);
        await timed(auth, hit);
        await timed(auth, hit);
      }
      return { requests: miss.length + hit.length, failures, errors, miss: summarize(miss), hit: summarize(hit) };
    },
  };
}

/** Holds spec.conns idle keep-alive connections open (one request each) until 'release'. */
function holdOp(spec) {
  const conns = [];
  const errors = {};
  let failures = 0;
  return {
    async prepare() {
      const bytes = buildRequest(spec);
      const t0 = nowUs();
      await mapLimit(Array.from({ length: spec.conns }), spec.concurrency ?? 50, async () => {
        const c = new Conn(spec);
        try {
          await c.open();
          const r = await c.request(bytes);
          if (r.status < 200 || r.status >= 300) throw new Error(`HTTP ${r.status}`);
          conns.push(c);
        } catch (e) {
          failures++;
          noteError(errors, e);
          c.close();
        }
      });
      return { open: conns.length, failures, errors, setupUs: nowUs() - t0 };
    },
    async go() {
      const alive = conns.filter((c) => c.sock && !c.sock.destroyed).length;
      return { alive, failures, errors, requests: conns.length };
    },
    async release() {
      for (const c of conns) c.close();
      return { closed: conns.length };
    },
  };
}

/** One large upload (spec.totalBytes) streamed in 1 MiB chunks, placeholder at the start of each chunk. */
function uploadOp(spec) {
  return {
    async prepare() {
      return {};
    },
    async go() {
      const errors = {};
      let failures = 0;
      const chunk = makeBody(1 << 20, spec.placeholder);
      const c = new Conn(spec);
      const t0 = nowUs();
      let elapsedUs = 0;
      try {
        await c.open();
        const head = buildRequest({ ...spec, method: 'POST' }, spec.target.host, { method: 'POST', path: spec.path, body: '' })
          .toString('latin1')
          .replace(/Content-Length: 0\r\n/, `Content-Length: ${spec.totalBytes}\r\n`);
        const done = new Promise((resolve, reject) => {
          c.pending = { resolve, reject };
        });
        c.parser.keepBody = false;
        const sock = c.sock;
        sock.write(head, 'latin1');
        let sent = 0;
        while (sent < spec.totalBytes) {
          const n = Math.min(chunk.length, spec.totalBytes - sent);
          const ok = sock.write(n === chunk.length ? chunk : chunk.subarray(0, n));
          sent += n;
          if (!ok) await Promise.race([once(sock, 'drain', 'close'), done]);
          if (sock.destroyed) throw new Error('connection closed during upload');
        }
        const r = await withTimeout(done, 120_000, 'upload response');
        if (r.status < 200 || r.status >= 300) throw new Error(`HTTP ${r.status}`);
        elapsedUs = nowUs() - t0;
      } catch (e) {
        failures++;
        noteError(errors, e);
      } finally {
        c.close();
      }
      return { requests: failures ? 0 : 1, failures, errors, elapsedUs, bytes: spec.totalBytes };
    },
  };
}

/** One request whose response body is returned (used for verification and for the smoke test). */
function fetchOp(spec) {
  return {
    async prepare() {
      return {};
    },
    async go() {
      const c = new Conn(spec);
      try {
        await c.open();
        const r = await c.request(buildRequest(spec, spec.target.host, { body: spec.body }), true);
        return { status: r.status, body: r.body, failures: r.status >= 200 && r.status < 300 ? 0 : 1 };
      } catch (e) {
        return { status: 0, body: '', error: String(e?.message ?? e), failures: 1 };
      } finally {
        c.close();
      }
    },
  };
}

const OPS = { load: loadOp, mint: mintOp, cache: cacheOp, hold: holdOp, upload: uploadOp, fetch: fetchOp };

// ---------------------------------------------------------------- IPC loop
if (process.send) {
  const running = new Map();
  process.on('message', async (msg) => {
    try {
      if (msg.type === 'prepare') {
        const op = OPS[msg.op](msg.spec);
        running.set(msg.id, op);
        const info = await op.prepare();
        process.send({ type: 'ready', id: msg.id, info });
      } else if (msg.type === 'go') {
        const result = await running.get(msg.id).go();
        if (!running.get(msg.id).release) running.delete(msg.id);
        process.send({ type: 'result', id: msg.id, result });
      } else if (msg.type === 'release') {
        const result = await running.get(msg.id).release();
        running.delete(msg.id);
        process.send({ type: 'result', id: msg.id, result });
      } else if (msg.type === 'exit') {
        process.exit(0);
      }
    } catch (e) {
      process.send({ type: 'error', id: msg.id, error: String(e?.stack ?? e) });
    }
  });
  process.on('disconnect', () => process.exit(0));
}
