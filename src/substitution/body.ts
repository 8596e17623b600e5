/**
 * Request-body substitution for the proxy (issue 4).
 *
 * `rewriteRequestBody(source, input)` decides how the body travels and returns a readable of the
 * rewritten body plus the headers to send with it:
 *
 * | request                                   | mode          | what happens                                    |
 * |-------------------------------------------|---------------|-------------------------------------------------|
 * | no secret may go into this host's bodies  | `passthrough` | `source` itself, headers unchanged              |
 * | no Content-Length/Transfer-Encoding, CL 0 | `passthrough` | no body                                         |
 * | unknown Content-Encoding                  | `passthrough` | untouched                                       |
 * | Transfer-Encoding (chunked)               | `streaming`   | decode -> replace -> encode, no length          |
 * | Content-Length                            | `buffered`    | same pipeline, collected to learn the new exact |
 * |                                           |               | length: in memory up to memoryLimit, then in a  |
 * |                                           |               | temp file (0600); above hardCap -> 413 error    |
 *
 * Candidates: secrets whose locations include 'body' and whose hosts allow the destination (or no
 * hosts + allowUnrestricted). A placeholder of another mounted secret stays and is reported in
 * `disallowed` (or, streaming with `blockDisallowed`, fails the body with DisallowedPlaceholderError
 * before the bytes carrying it are emitted); unknown placeholders stay silently.
 *
 * How a value is written depends on the Content-Type, so that the server decodes exactly the value
 * and the value cannot change the body's structure (the sandbox only had the URL/JSON-safe
 * placeholder, so its client escaped nothing):
 *   - JSON (`application/json`, `*+json`): JSON string escaping (JSON.stringify(value) minus quotes).
 *   - `application/x-www-form-urlencoded`: percent-encoding, query rules (see encode.ts), plus
 *     CR/LF/NUL percent-encoded (legal in a form body).
 *   - anything else: the value's UTF-8 bytes.
 *
 * Temp files: mkdtemp under `tmpDir` (default os.tmpdir(), directory 0700), file created with
 * `wx` and mode 0600. Once fully written, it is opened for reading and removed at once (the open
 * descriptor keeps the data readable, so nothing is left behind even if the process dies later);
 * on error or abort during buffering it is closed and removed.
 */
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline as pipelineCallback, Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ResolvedSecret } from '../resolver/types.js';
import { allowedSecrets, PLACEHOLDER_LENGTH, secretAllowed } from './compile.js';
import { codecChain, isZlibError, parseContentEncoding } from './codecs.js';
import { percentEncode } from './encode.js';
import { BodyDecodeError, BodySpillError, BodyTooLargeError, DisallowedPlaceholderError } from './errors.js';
import { createReplaceStream, placeholderMatcher, ReplacedCollector, Replacer, type Matcher } from './stream-replace.js';
import type { CompiledSecrets } from './types.js';

export type BodyValueForm = 'raw' | 'json' | 'form';

/** Which value encoding a Content-Type calls for (see the module comment). */
export function bodyValueFormFor(contentType: string | null | undefined): BodyValueForm {
  if (!contentType) return 'raw';
  const essence = contentType.split(';', 1)[0]!.trim().toLowerCase();
  if (essence === 'application/json' || essence.endsWith('+json')) return 'json';
  if (essence === 'application/x-www-form-urlencoded') return 'form';
  return 'raw';
}

/**
 * bodyValueBytes per secret object, per form: the mapping cache hands out the same secret objects
 * until a refresh replaces them (then these entries go with them).
 */
const valueBytesCache = new WeakMap<ResolvedSecret, Partial<Record<BodyValueForm, Buffer>>>();

function secretValueBytes(secret: ResolvedSecret, form: BodyValueForm): Buffer {
  let forms = valueBytesCache.get(secret);
  if (forms === undefined) valueBytesCache.set(secret, (forms = {}));
  return (forms[form] ??= bodyValueBytes(secret.value, form));
}

/** The bytes that replace a placeholder in a body of the given form. */
export function bodyValueBytes(value: string, form: BodyValueForm): Buffer {
  if (form === 'json') return Buffer.from(JSON.stringify(value).slice(1, -1), 'utf8');
  if (form === 'form') return Buffer.from(percentEncode(value, 'query'), 'latin1');
  return Buffer.from(value, 'utf8');
}

export interface BodyRewriteInput {
  compiled: CompiledSecrets;
  /** Destination host, normalized with normalizeDestinationHost. */
  host: string;
  allowUnrestricted: boolean;
  /** The request's headers (Node's rawHeaders shape), e.g. as returned by rewriteRequestHead. */
  rawHeaders: readonly string[];
  /**
   * The request is chunked. Default: a Transfer-Encoding header is present in rawHeaders. Pass it
   * when rawHeaders had hop-by-hop headers stripped (`req.headers['transfer-encoding'] !== undefined`).
   */
  chunked?: boolean;
  /** Bodies with a Content-Length are kept in memory up to this many bytes (after substitution). */
  memoryLimit: number;
  /** ... and refused with BodyTooLargeError (413) above this many bytes (declared or produced). */
  hardCap: number;
  /** Where spill files go (default os.tmpdir()). */
  tmpDir?: string;
  /** Aborts buffering (e.g. the client went away); the temp file is removed. */
  signal?: AbortSignal;
  /** Called once the body is accepted, right before it is read (the proxy answers `Expect: 100-continue` there). */
  beforeRead?: () => void;
  /** Called with the temp file's path right after it is created (tests, debug logging). */
  onSpill?: (filePath: string) => void;
  /**
   * Streaming mode only (the proxy's block mode): a placeholder of a mounted secret that may not go
   * to this host makes the body fail with DisallowedPlaceholderError; the chunk carrying it is never
   * emitted (bytes before it may have been). Buffered bodies are complete before anything is sent:
   * there `disallowed` lists them all and the caller decides.
   */
  blockDisallowed?: boolean;
}

export interface BodyRewrite {
  mode: 'passthrough' | 'streaming' | 'buffered';
  /** The body to send upstream (`source` itself in passthrough mode). Consume it or call dispose(). */
  body: Readable;
  /** Headers to send: rawHeaders with Content-Length set to the new length in buffered mode. */
  rawHeaders: string[];
  /** Exact body length to send (buffered), the original length (passthrough with CL), else null. */
  contentLength: number | null;
  /** Whether the buffered body went to a temp file. */
  spilled: boolean;
  /**
   * Secrets whose value was put in. Complete when this promise resolves in buffered mode; in
   * streaming mode it fills while the body flows (scrub responses with `candidates` to be safe).
   */
  substituted: ResolvedSecret[];
  /** Mounted secrets whose placeholder was found in the body but may not go there. Same timing. */
  disallowed: { name: string; where: 'body' }[];
  /** Every secret that may be substituted into this body. */
  candidates: ResolvedSecret[];
  /**
   * Buffered in memory: the whole rewritten body (the same bytes `body` yields). A caller may send
   * this instead of reading `body` (then `body` is never created).
   */
  buffer: Buffer | null;
  /** Destroys the body and releases a temp file when the body will not be consumed. */
  dispose(): void;
}

function headerValue(rawHeaders: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === lowerName) return rawHeaders[i + 1];
  }
  return undefined;
}

function withContentLength(rawHeaders: readonly string[], length: number): string[] {
  const out = rawHeaders.slice();
  for (let i = 0; i + 1 < out.length; i += 2) {
    if (out[i]!.toLowerCase() === 'content-length') out[i + 1] = String(length);
  }
  return out;
}

function passthrough(source: Readable, rawHeaders: readonly string[], contentLength: number | null): BodyRewrite {
  return {
    mode: 'passthrough',
    body: source,
    rawHeaders: rawHeaders.slice(),
    contentLength,
    spilled: false,
    substituted: [],
    disallowed: [],
    candidates: [],
    buffer: null,
    dispose: () => {
      if (!source.readableEnded) source.destroy();
    },
  };
}

/** A Content-Length value as a number, or null when absent or not a plain decimal. */
export function parseContentLength(value: string | undefined): number | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  return /^\d{1,15}$/.test(trimmed) ? Number(trimmed) : null;
}

export async function rewriteRequestBody(source: Readable, input: BodyRewriteInput): Promise<BodyRewrite> {
  const { compiled, host, allowUnrestricted, rawHeaders } = input;
  const transferEncoding = headerValue(rawHeaders, 'transfer-encoding');
  const contentLength = parseContentLength(headerValue(rawHeaders, 'content-length'));
  const streaming = input.chunked ?? transferEncoding !== undefined;
  if (!streaming && (contentLength === null || contentLength === 0)) return passthrough(source, rawHeaders, contentLength);

  const candidates = allowedSecrets(compiled, host, 'body', allowUnrestricted);
  if (candidates.length === 0) return passthrough(source, rawHeaders, streaming ? null : contentLength);
  const codings = parseContentEncoding(headerValue(rawHeaders, 'content-encoding'));
  if (codings === null) return passthrough(source, rawHeaders, streaming ? null : contentLength);

  // Refused before reading anything: `source` is left as it is (the proxy answers 413 and closes).
  if (!streaming && contentLength! > input.hardCap) throw new BodyTooLargeError(input.hardCap);
  input.beforeRead?.();

  const form = bodyValueFormFor(headerValue(rawHeaders, 'content-type'));
  const substituted: ResolvedSecret[] = [];
  const disallowed: { name: string; where: 'body' }[] = [];
  const bytes = new Map<ResolvedSecret, Buffer>();
  // Block mode for a streamed body: the lookup throws, so the Replacer returns nothing of the scan
  // that found the placeholder and the stream fails before the bytes carrying it are emitted.
  const block = streaming && input.blockDisallowed === true;
  const matcher = placeholderMatcher((placeholder) => {
    const secret = compiled.byPlaceholder.get(placeholder);
    if (secret === undefined) return null;
    if (!secretAllowed(secret, host, 'body', allowUnrestricted)) {
      if (!disallowed.some((entry) => entry.name === secret.name)) disallowed.push({ name: secret.name, where: 'body' });
      if (block) throw new DisallowedPlaceholderError(disallowed);
      return null;
    }
    let value = bytes.get(secret);
    if (value === undefined) {
      value = secretValueBytes(secret, form);
      bytes.set(secret, value);
      substituted.push(secret);
    }
    return value;
  });
  if (!streaming && codings.length === 0 && maxRewrittenLength(contentLength!, candidates, form) <= Math.min(input.memoryLimit, input.hardCap)) {
    // Fast path, same result as the pipeline below: an identity body that stays in memory whatever
    // it contains (even every 37 bytes replaced by the longest value) is collected with plain
    // 'data' listeners and a synchronous Replacer: no stream pipeline, no AbortController per request.
    const buffer = await collectReplaced(source, matcher, input.signal);
    let readable: Readable | null = null;
    return {
      mode: 'buffered',
      get body() {
        return (readable ??= Readable.from(buffer.length === 0 ? [] : [buffer], { objectMode: false }));
      },
      rawHeaders: withContentLength(rawHeaders, buffer.length),
      contentLength: buffer.length,
      spilled: false,
      substituted,
      disallowed,
      candidates,
      buffer,
      dispose: () => readable?.destroy(),
    };
  }
  const { decoders, encoders } = codecChain(codings);
  const stages: (Transform | Readable)[] = [source, ...decoders, createReplaceStream(matcher), ...encoders];
  const codingName = codings.join(', ');

  if (streaming) {
    // A failing stage (a body that does not decode, a disallowed placeholder) fails `body`; pipeline
    // detaches a server request from its socket before destroying it, so the proxy can still answer.
    const body = pipelineCallback(stages as unknown as [Readable, Transform], () => {}) as unknown as Readable;
    return {
      mode: 'streaming',
      body,
      rawHeaders: rawHeaders.slice(),
      contentLength: null,
      spilled: false,
      substituted,
      disallowed,
      candidates,
      buffer: null,
      dispose: () => body.destroy(),
    };
  }

  const sink = new SpillSink(input.memoryLimit, input.hardCap, input.tmpDir, input.onSpill);
  try {
    await pipeline([...stages, sink] as unknown as [Readable, Writable], input.signal ? { signal: input.signal } : {});
  } catch (error) {
    await sink.discard();
    if (error instanceof BodyTooLargeError) throw error;
    if (decoders.length > 0 && isZlibError(error)) throw new BodyDecodeError(codingName, (error as Error).message);
    throw error;
  }
  const body = await sink.toReadable();
  return {
    mode: 'buffered',
    body,
    rawHeaders: withContentLength(rawHeaders, sink.size),
    contentLength: sink.size,
    spilled: sink.spilled,
    substituted,
    disallowed,
    candidates,
    buffer: null,
    dispose: () => body.destroy(),
  };
}

/** The most bytes an identity body of `length` bytes can become: every 37 bytes a placeholder replaced by the longest value. */
function maxRewrittenLength(length: number, candidates: readonly ResolvedSecret[], form: BodyValueForm): number {
  let longest = 0;
  for (const secret of candidates) longest = Math.max(longest, secretValueBytes(secret, form).length);
  return length + Math.floor(length / PLACEHOLDER_LENGTH) * Math.max(0, longest - PLACEHOLDER_LENGTH);
}

/**
 * Reads `source` to its end through a Replacer and returns the rewritten bytes. Fails like the
 * stream pipeline would: on a source error, on a close before the end, on `signal` (the source is
 * destroyed then).
 */
function collectReplaced(source: Readable, matcher: Matcher, signal: AbortSignal | undefined): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const collected = new ReplacedCollector(new Replacer(matcher));
    const cleanup = () => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
      source.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (error: Error) => {
      cleanup();
      source.destroy();
      reject(error);
    };
    const onData = (chunk: Buffer | string) => collected.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    const onEnd = () => {
      cleanup();
      resolve(collected.finish());
    };
    const onError = (error: Error) => fail(error);
    const onClose = () => fail(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    const onAbort = () => fail(Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' }));
    if (signal?.aborted) return onAbort();
    if (source.destroyed) return onClose();
    source.on('data', onData);
    source.once('end', onEnd);
    source.once('error', onError);
    source.once('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Collects bytes in memory up to a limit, then in a 0600 temp file; refuses above a hard cap. */
class SpillSink extends Writable {
  size = 0;
  private chunks: Buffer[] = [];
  private dir: string | null = null;
  private filePath: string | null = null;
  private file: FileHandle | null = null;
  /** The write in progress, so that discard() never races a half-created temp file. */
  private inflight: Promise<void> | null = null;

  constructor(
    private readonly memoryLimit: number,
    private readonly hardCap: number,
    /** Read only when spilling: os.tmpdir() reads the environment each call (costly per request). */
    private readonly tmpDir: string | undefined,
    private readonly onSpill: ((filePath: string) => void) | undefined,
  ) {
    super();
  }

  get spilled(): boolean {
    return this.filePath !== null;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.size += chunk.length;
    if (this.size > this.hardCap) return callback(new BodyTooLargeError(this.hardCap));
    if (this.file === null && this.size <= this.memoryLimit) {
      this.chunks.push(chunk);
      return callback();
    }
    const write = this.spill(chunk).catch((error: NodeJS.ErrnoException) => {
      throw new BodySpillError(error.code ?? 'error');
    });
    this.inflight = write;
    write.then(
      () => {
        this.inflight = null;
        callback();
      },
      (error: Error) => {
        this.inflight = null;
        callback(error);
      },
    );
  }

  private async spill(chunk: Buffer): Promise<void> {
    if (this.file === null) {
      this.dir = await mkdtemp(path.join(this.tmpDir ?? os.tmpdir(), 'veil-body-'));
      this.filePath = path.join(this.dir, 'body');
      this.file = await open(this.filePath, 'wx', 0o600);
      this.onSpill?.(this.filePath);
      const held = this.chunks;
      this.chunks = [];
      for (const piece of held) await writeAll(this.file, piece);
    }
    await writeAll(this.file, chunk);
  }

  /** The collected body as a readable; a temp file is unlinked as soon as it is open for reading. */
  async toReadable(): Promise<Readable> {
    if (this.file === null) {
      const chunks = this.chunks;
      this.chunks = [];
      return Readable.from(chunks.length <= 1 ? chunks : [Buffer.concat(chunks)], { objectMode: false });
    }
    await this.file.close();
    this.file = null;
    let reader: FileHandle | null = null;
    try {
      reader = await open(this.filePath!, 'r');
    } finally {
      await this.removeDir();
    }
    return createReadStream('', { fd: reader, autoClose: true });
  }

  async discard(): Promise<void> {
    await this.inflight?.catch(() => {});
    this.chunks = [];
    const file = this.file;
    this.file = null;
    await file?.close().catch(() => {});
    await this.removeDir();
  }

  private async removeDir(): Promise<void> {
    if (this.dir !== null) {
      const dir = this.dir;
      this.dir = null;
      await rm(dir, { recursive: true, force: true });
    }
  }
}

async function writeAll(file: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await file.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}
