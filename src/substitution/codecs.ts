/**
 * Content-Encoding codecs for request bodies: decoders/encoders for gzip, deflate and br.
 *
 * `deflate` is meant to be zlib-wrapped (RFC 9110), but some clients send raw deflate: the
 * decoder looks at the first two bytes (a zlib header has CM = 8 and a multiple-of-31 check) and
 * the paired encoder writes the same flavour back.
 */
import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';

export type KnownCoding = 'gzip' | 'deflate' | 'br';

/**
 * Parses a Content-Encoding header into known codings in the order they were applied.
 * Returns [] for no encoding / identity, null when any coding is unknown (pass through untouched).
 */
export function parseContentEncoding(header: string | null | undefined): KnownCoding[] | null {
  if (header === null || header === undefined) return [];
  const codings: KnownCoding[] = [];
  for (const raw of header.split(',')) {
    const coding = raw.trim().toLowerCase();
    if (coding === '' || coding === 'identity') continue;
    if (coding === 'gzip' || coding === 'x-gzip') codings.push('gzip');
    else if (coding === 'deflate') codings.push('deflate');
    else if (coding === 'br') codings.push('br');
    else return null;
  }
  return codings;
}

interface DeflateFlavour {
  raw: boolean | undefined;
}

function looksLikeZlibHeader(first: number, second: number): boolean {
  return (first & 0x0f) === 8 && (first >> 4) <= 7 && ((first << 8) | second) % 31 === 0;
}

/** A Transform that delegates to a zlib stream chosen once the first bytes are known. */
class LazyZlib extends Transform {
  private inner: zlib.Inflate | zlib.InflateRaw | zlib.Deflate | zlib.DeflateRaw | null = null;
  private head: Buffer = Buffer.alloc(0);

  constructor(private readonly choose: (head: Buffer) => zlib.Inflate | zlib.InflateRaw | zlib.Deflate | zlib.DeflateRaw, private readonly headBytes: number, private readonly emptyGivesEmpty: boolean) {
    super();
  }

  private start(head: Buffer): void {
    const inner = this.choose(head);
    this.inner = inner;
    inner.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) inner.pause();
    });
    inner.on('error', (error) => this.destroy(error));
  }

  override _read(size: number): void {
    this.inner?.resume();
    super._read(size);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.inner) {
      this.head = Buffer.concat([this.head, chunk]);
      if (this.head.length < this.headBytes) return callback();
      this.start(this.head);
      chunk = this.head;
      this.head = Buffer.alloc(0);
    }
    this.inner!.write(chunk, () => callback());
  }

  override _flush(callback: TransformCallback): void {
    if (!this.inner) {
      if (this.head.length === 0 && this.emptyGivesEmpty) return callback();
      this.start(this.head);
      if (this.head.length > 0) this.inner!.write(this.head);
      this.head = Buffer.alloc(0);
    }
    const inner = this.inner!;
    inner.once('end', () => callback());
    inner.end();
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.inner?.destroy();
    callback(error);
  }
}

function deflateDecoder(flavour: DeflateFlavour): Transform {
  return new LazyZlib((head) => {
    flavour.raw = !(head.length >= 2 && looksLikeZlibHeader(head[0]!, head[1]!));
    return flavour.raw ? zlib.createInflateRaw() : zlib.createInflate();
  }, 2, true);
}

function deflateEncoder(flavour: DeflateFlavour): Transform {
  // Created before decoding starts; by the time the first decoded byte reaches it the flavour is known.
  return new LazyZlib(() => (flavour.raw ? zlib.createDeflateRaw() : zlib.createDeflate()), 1, false);
}

/** Brotli quality for re-encoding: fast enough for a proxy (11, the default, is far too slow). */
const BROTLI_QUALITY = 5;

export interface CodecChain {
  decoders: Transform[];
  encoders: Transform[];
}

/** Decoders (last applied coding first) and encoders (first applied coding first) for the codings. */
export function codecChain(codings: readonly KnownCoding[]): CodecChain {
  const decoders: Transform[] = [];
  const encoders: Transform[] = [];
  for (const coding of codings) {
    if (coding === 'gzip') {
      decoders.unshift(zlib.createGunzip());
      encoders.push(zlib.createGzip());
    } else if (coding === 'br') {
      decoders.unshift(zlib.createBrotliDecompress());
      encoders.push(zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY } }));
    } else {
      const flavour: DeflateFlavour = { raw: undefined };
      decoders.unshift(deflateDecoder(flavour));
      encoders.push(deflateEncoder(flavour));
    }
  }
  return { decoders, encoders };
}

/** A zlib error (codes Z_*): data that does not decode as its Content-Encoding. */
export function isZlibError(error: unknown): error is Error & { code: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}
