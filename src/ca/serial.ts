import { randomBytes } from 'node:crypto';

/**
 * A random positive certificate serial: 16 bytes (RFC 5280 allows up to 20; CA/B asks for 64+
 * random bits), hex for forge. Top bit cleared so the INTEGER is positive without a 0x00 pad, and
 * the first byte forced non-zero so the encoding stays minimal DER (strict parsers like Go and
 * rustls reject a redundant leading zero) and the serial is never zero.
 */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes.toString('hex');
}
