/**
 * A PKCS#12 truststore Java accepts: one certBag per trusted certificate. Java only treats a
 * certificate-only PKCS#12 entry as a trustedCertEntry when its bag carries Oracle's
 * "trusted key usage" attribute (OID 2.16.840.1.113894.746875.1.1) with anyExtendedKeyUsage;
 * forge's PKCS#12 writer cannot add bag attributes, so the structure is assembled here. The
 * password only keys the integrity MAC (the store holds public certificates, nothing secret).
 */
import { createHmac, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { derSequence, derTlv } from './der.js';

const OID = {
  data: '1.2.840.113549.1.7.1',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  oracleTrustedKeyUsage: '2.16.840.1.113894.746875.1.1',
  anyExtendedKeyUsage: '2.5.29.37.0',
  sha1: '1.3.14.3.2.26',
};
/** The JDK's own default for PKCS#12 MACs. */
const MAC_ITERATIONS = 10_000;

const oid = (dotted: string): Buffer => derTlv(0x06, Buffer.from(forge.asn1.oidToDer(dotted).getBytes(), 'binary'));
const octetString = (bytes: Buffer): Buffer => derTlv(0x04, bytes);
const explicit0 = (inner: Buffer): Buffer => derTlv(0xa0, inner);
/** DER SET OF: elements sorted by their encoding. */
const setOf = (...items: Buffer[]): Buffer => derTlv(0x31, Buffer.concat([...items].sort(Buffer.compare)));
const bmpString = (text: string): Buffer => derTlv(0x1e, Buffer.from(text, 'utf16le').swap16());
const nullValue = Buffer.from([0x05, 0x00]);

function integer(value: number): Buffer {
  const bytes: number[] = [];
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  if (bytes.length === 0 || bytes[0]! & 0x80) bytes.unshift(0);
  return derTlv(0x02, Buffer.from(bytes));
}

const dataContentInfo = (content: Buffer): Buffer => derSequence(oid(OID.data), explicit0(octetString(content)));

export interface TrustedCertificate {
  /** Becomes the Java alias (friendlyName). Unique per store. */
  alias: string;
  der: Buffer;
}

function certBag(entry: TrustedCertificate): Buffer {
  const certValue = derSequence(oid(OID.x509Certificate), explicit0(octetString(entry.der)));
  const attributes = setOf(
    derSequence(oid(OID.friendlyName), setOf(bmpString(entry.alias))),
    derSequence(oid(OID.oracleTrustedKeyUsage), setOf(oid(OID.anyExtendedKeyUsage))),
  );
  return derSequence(oid(OID.certBag), explicit0(certValue), attributes);
}

/** DER of a PFX holding `entries` as trusted certificates, MAC'd (HMAC-SHA1, PKCS#12 KDF) with `password`. */
export function buildJavaTrustStore(entries: readonly TrustedCertificate[], password: string): Buffer {
  const safeContents = derSequence(...entries.map(certBag));
  const authenticatedSafe = derSequence(dataContentInfo(safeContents));
  const salt = randomBytes(20);
  const macKey = forge.pkcs12.generateKey(password, forge.util.createBuffer(salt.toString('binary')), 3, MAC_ITERATIONS, 20);
  const mac = createHmac('sha1', Buffer.from(macKey.getBytes(), 'binary')).update(authenticatedSafe).digest();
  const macData = derSequence(derSequence(derSequence(oid(OID.sha1), nullValue), octetString(mac)), octetString(salt), integer(MAC_ITERATIONS));
  return derSequence(integer(3), dataContentInfo(authenticatedSafe), macData);
}
