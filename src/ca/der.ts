/**
 * Minimal DER helpers on Buffers: enough to read a few fields of a certificate without a full
 * parser, and to assemble a signed Certificate from pre-encoded parts without re-encoding them.
 */
import { CaError } from './errors.js';

export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the content. */
  end: number;
}

/** Reads one TLV at `offset` (single-byte tags are all X.509 needs). */
export function readTlv(buffer: Buffer, offset: number): Tlv {
  if (offset + 2 > buffer.length) throw new CaError('malformed DER: truncated header');
  const tag = buffer[offset]!;
  let length = buffer[offset + 1]!;
  let contentStart = offset + 2;
  if (length & 0x80) {
    const lengthBytes = length & 0x7f;
    if (lengthBytes === 0 || lengthBytes > 4 || contentStart + lengthBytes > buffer.length) {
      throw new CaError('malformed DER: bad length');
    }
    length = 0;
    for (let i = 0; i < lengthBytes; i++) length = length * 256 + buffer[contentStart + i]!;
    contentStart += lengthBytes;
  }
  const end = contentStart + length;
  if (end > buffer.length) throw new CaError('malformed DER: content runs past the end');
  return { tag, start: offset, contentStart, end };
}

/** The TLVs directly inside a constructed TLV. */
export function children(buffer: Buffer, parent: Tlv): Tlv[] {
  const result: Tlv[] = [];
  let offset = parent.contentStart;
  // Bounded by the parent's length: each step advances by at least the 2-byte header.
  while (offset < parent.end) {
    const child = readTlv(buffer, offset);
    result.push(child);
    offset = child.end;
  }
  return result;
}

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function derTlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

export const derSequence = (...parts: Buffer[]): Buffer => derTlv(0x30, Buffer.concat(parts));
/** BIT STRING with no unused bits (signatures, keys). */
export const derBitString = (bytes: Buffer): Buffer => derTlv(0x03, Buffer.concat([Buffer.from([0]), bytes]));

export function derToPem(der: Buffer, label: string): string {
  const base64 = der.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += 64) lines.push(base64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Every `-----BEGIN CERTIFICATE-----` block of a PEM text, as DER. */
export function certificatesFromPem(pem: string): Buffer[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => Buffer.from(block.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ''), 'base64'));
}
