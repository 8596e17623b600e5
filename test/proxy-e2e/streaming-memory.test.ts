/**
 * Constant memory for large bodies, measured on the real process: `veil serve` runs as a child
 * (its RSS read from /proc/<pid>/status), a Node client streams 512 MiB through its proxy with
 * placeholders near the start, across a chunk boundary in the middle and near the end, and an
 * upstream counts bytes and checks every placeholder arrived replaced. Nothing holds 512 MiB in
 * this process: the body is generated and checked on the fly.
 * Chunked (streamed substitution) and Content-Length (spilled to a temp file to get the exact new
 * length) uploads are both measured. Throughput is printed, never asserted.
 */
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminApi, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';

const MiB = 1024 * 1024;
const TOTAL_CHUNKS = 512;
const VALUE = 'sk-stream-REAL-value-0123456789abcdefghijklmnopqrstuvwxyz'; // longer than a placeholder
const HOST = 'upload.stream.test';

/** Counts occurrences of needles across chunk boundaries, keeping only a short tail. */
class StreamCounter {
  bytes = 0;
  private tail = Buffer.alloc(0);
  readonly counts: number[];
  private readonly keep: number;

  constructor(private readonly needles: Buffer[]) {
    this.counts = needles.map(() => 0);
    this.keep = Math.max(...needles.map((needle) => needle.length)) - 1;
  }

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    const data = this.tail.length === 0 ? chunk : Buffer.concat([this.tail, chunk]);
    this.needles.forEach((needle, index) => {
      let at = data.indexOf(needle);
      while (at !== -1) {
        // Occurrences entirely inside the old tail were counted with the previous chunk.
        if (at + needle.length > this.tail.length) this.counts[index]! += 1;
        at = data.indexOf(needle, at + 1);
      }
    });
    this.tail = Buffer.from(data.subarray(Math.max(0, data.length - this.keep)));
  }
}

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

interface UploadResult {
  status: number;
  upstreamBytes: number;
  valueCount: number;
  placeholderCount: number;
  contentLength: string | undefined;
  transferEncoding: string | undefined;
  peakRss: number;
  baselineRss: number;
  seconds: number;
}

describe('512 MiB through `veil serve` in constant memory', () => {
  let veil: ServeProcess;
  let upstream: Server;
  let upstreamPort: number;
  let placeholder: string;
  let proxyAuth: string;
  let lastUpstream: { bytes: number; counts: number[]; contentLength?: string; transferEncoding?: string } | null = null;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const counter = new StreamCounter([Buffer.from(VALUE), Buffer.from(placeholder)]);
      req.on('data', (chunk: Buffer) => counter.push(chunk));
      req.on('end', () => {
        lastUpstream = {
          bytes: counter.bytes,
          counts: counter.counts,
          ...(req.headers['content-length'] !== undefined ? { contentLength: req.headers['content-length'] } : {}),
          ...(req.headers['transfer-encoding'] !== undefined ? { transferEncoding: req.headers['transfer-encoding'] } : {}),
        };
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }).end('ok');
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamPort = (upstream.address() as AddressInfo).port;
    veil = await startServeProcess({ proxy: true, env: { VEIL_RESOLVE: `${HOST}=127.0.0.1` } });
    const api = async (method: string, path: string, body: unknown) => {
      const reply = await adminApi(veil, method, path, body);
      expect(reply.status).toBe(201);
      return reply.json as Record<string, any>;
    };
    await api('POST', '/secret', { name: 'upload-token', value: VALUE, hosts: [HOST], locations: ['body'] });
    const sandbox = await api('POST', '/sandbox', { name: 'uploader', secrets: [{ UPLOAD_TOKEN: 'upload-token' }] });
    placeholder = sandbox.env.UPLOAD_TOKEN;
    proxyAuth = `Basic ${Buffer.from(`${sandbox.id}:${sandbox.proxyToken}`).toString('base64')}`;
  }, 120_000);

  afterAll(async () => {
    await veil?.stop();
    await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
  });

  /** Streams TOTAL_CHUNKS MiB: placeholders at offset 100 of chunk 0, across the boundary of the middle chunks, 60 bytes before the end. */
  function upload(framing: 'chunked' | 'length', chunks = TOTAL_CHUNKS): Promise<UploadResult> {
    const filler = Buffer.alloc(MiB, 0x61);
    const p = Buffer.from(placeholder);
    const first = Buffer.from(filler);
    p.copy(first, 100);
    const middle = Math.floor(chunks / 2);
    const beforeMiddle = Buffer.from(filler);
    p.copy(beforeMiddle, MiB - 20, 0, 20);
    const atMiddle = Buffer.from(filler);
    p.copy(atMiddle, 0, 20);
    const last = Buffer.from(filler);
    p.copy(last, MiB - 60 - p.length);
    const chunkAt = (index: number) => (index === 0 ? first : index === middle - 1 ? beforeMiddle : index === middle ? atMiddle : index === chunks - 1 ? last : filler);
    const total = chunks * MiB;

    return new Promise((resolve, reject) => {
      lastUpstream = null;
      const pid = veil.child.pid!;
      const baselineRss = rssBytes(pid);
      let peakRss = baselineRss;
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, rssBytes(pid));
      }, 50);
      const started = process.hrtime.bigint();
      const proxy = new URL(veil.proxyUrl!);
      const req = httpRequest({
        host: proxy.hostname,
        port: Number(proxy.port),
        method: 'POST',
        path: `http://${HOST}:${upstreamPort}/upload`,
        headers: {
          Host: `${HOST}:${upstreamPort}`,
          'Proxy-Authorization': proxyAuth,
          'Content-Type': 'application/octet-stream',
          ...(framing === 'length' ? { 'Content-Length': String(total) } : { 'Transfer-Encoding': 'chunked' }),
        },
      });
      const fail = (error: Error) => {
        clearInterval(sampler);
        reject(error);
      };
      req.on('error', fail);
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => {
          clearInterval(sampler);
          peakRss = Math.max(peakRss, rssBytes(pid));
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          resolve({
            status: res.statusCode ?? 0,
            upstreamBytes: lastUpstream?.bytes ?? -1,
            valueCount: lastUpstream?.counts[0] ?? -1,
            placeholderCount: lastUpstream?.counts[1] ?? -1,
            contentLength: lastUpstream?.contentLength,
            transferEncoding: lastUpstream?.transferEncoding,
            peakRss,
            baselineRss,
            seconds,
          });
        });
      });
      let index = 0;
      const pump = () => {
        while (index < chunks) {
          const ok = req.write(chunkAt(index));
          index += 1;
          if (!ok) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    });
  }

  function report(label: string, result: UploadResult): void {
    const growth = (result.peakRss - result.baselineRss) / MiB;
    console.log(
      `${label}: ${TOTAL_CHUNKS} MiB in ${result.seconds.toFixed(1)} s (${(TOTAL_CHUNKS / result.seconds).toFixed(0)} MiB/s); proxy RSS ${(result.baselineRss / MiB).toFixed(0)} -> peak ${(result.peakRss / MiB).toFixed(0)} MiB (growth ${growth.toFixed(1)} MiB)`,
    );
  }

  it('warms up (small upload), so the baseline includes the code paths', async () => {
    const result = await upload('chunked', 4);
    expect(result.status).toBe(200);
    expect(result.valueCount).toBe(3);
    const spilled = await upload('length', 12);
    expect(spilled.status).toBe(200);
    expect(spilled.valueCount).toBe(3);
  }, 60_000);

  it('chunked: 512 MiB streamed, every placeholder replaced, RSS grows by less than 64 MiB', async () => {
    const result = await upload('chunked');
    report('chunked', result);
    expect(result.status).toBe(200);
    expect(result.transferEncoding).toBe('chunked');
    expect(result.valueCount).toBe(3);
    expect(result.placeholderCount).toBe(0);
    expect(result.upstreamBytes).toBe(TOTAL_CHUNKS * MiB + 3 * (VALUE.length - placeholder.length));
    expect(result.peakRss - result.baselineRss).toBeLessThan(64 * MiB);
  }, 300_000);

  it('Content-Length: 512 MiB spilled to a temp file, exact new length upstream, RSS grows by less than 64 MiB', async () => {
    const result = await upload('length');
    report('content-length', result);
    expect(result.status).toBe(200);
    const expectedLength = TOTAL_CHUNKS * MiB + 3 * (VALUE.length - placeholder.length);
    expect(result.contentLength).toBe(String(expectedLength));
    expect(result.upstreamBytes).toBe(expectedLength);
    expect(result.valueCount).toBe(3);
    expect(result.placeholderCount).toBe(0);
    expect(result.peakRss - result.baselineRss).toBeLessThan(64 * MiB);
  }, 300_000);
});
