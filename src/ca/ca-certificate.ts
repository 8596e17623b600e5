/**
 * Veil's own root: creating one, and reading any CA certificate + key pair (ours or one the user
 * supplied) into the `Issuer` that signs leaves.
 */
import { createPrivateKey, generateKeyPair, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { children, readTlv } from './der.js';
import { CaError } from './errors.js';
import { randomSerialHex } from './serial.js';
import { keyIdentifierFor, signatureAlgorithmFor, signCertificate, type Issuer } from './signing.js';

const HOUR_MS = 3_600_000;
export const CA_VALIDITY_YEARS = 10;
const SUBJECT_KEY_IDENTIFIER_OID = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x0e]);

const generateKeyPairAsync = promisify(generateKeyPair);

/** A freshly generated CA: PKCS#8 key PEM and self-signed certificate PEM. */
export interface CaMaterial {
  certPem: string;
  keyPem: string;
}

/**
 * RSA 2048 rather than EC P-256: every TLS client accepts an RSA root (old Java and Android,
 * embedded OpenSSL/mbedTLS builds, Windows schannel), and forge's certificate model only handles RSA
 * public keys. Key generation runs off the loop (async generateKeyPair).
 */
export async function createCaMaterial(now = new Date()): Promise<CaMaterial> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = new Date(now.getTime() - HOUR_MS);
  const notAfter = new Date(now.getTime() - HOUR_MS);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_VALIDITY_YEARS);
  cert.validity.notAfter = notAfter;
  const utf8 = forge.asn1.Type.UTF8;
  const subject = [
    { shortName: 'CN', value: `Veil Local CA ${randomBytes(4).toString('hex')}`, valueTagClass: utf8 },
    { shortName: 'O', value: 'Veil', valueTagClass: utf8 },
  ] as unknown as forge.pki.CertificateField[];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  const keyIdentifier = keyIdentifierFor(publicKey);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier', value: octetString(keyIdentifier) },
    { name: 'authorityKeyIdentifier', keyIdentifier: keyIdentifier.toString('binary') },
  ]);
  const subjectDer = Buffer.from(forge.asn1.toDer(forge.pki.distinguishedNameToAsn1(cert.subject)).getBytes(), 'binary');
  const issuer: Issuer = { privateKey, algorithm: signatureAlgorithmFor(privateKey), subjectDer, keyIdentifier };
  const certPem = await signCertificate(cert, issuer);
  return { certPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** DER of an OCTET STRING, as forge wants a pre-encoded extension value (binary string). */
export function octetString(bytes: Buffer): string {
  return forge.asn1.toDer(forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.OCTETSTRING, false, bytes.toString('binary'))).getBytes();
}

/** What the rest of Veil needs from a loaded CA. */
export interface LoadedCa {
  certPem: string;
  x509: X509Certificate;
  issuer: Issuer;
}

/** The subject Name and the subjectKeyIdentifier (if present) straight from the certificate DER. */
function subjectAndKeyIdentifier(der: Buffer): { subjectDer: Buffer; keyIdentifier: Buffer | undefined } {
  const certificate = readTlv(der, 0);
  const tbs = children(der, certificate)[0];
  if (!tbs) throw new CaError('malformed certificate: no TBSCertificate');
  const fields = children(der, tbs);
  const base = fields[0]?.tag === 0xa0 ? 1 : 0; // version [0] is optional (v1 certificates)
  const subject = fields[base + 4];
  if (!subject) throw new CaError('malformed certificate: no subject');
  let keyIdentifier: Buffer | undefined;
  const extensions = fields.find((field) => field.tag === 0xa3);
  if (extensions) {
    for (const extension of children(der, children(der, extensions)[0]!)) {
      const parts = children(der, extension);
      const oid = der.subarray(parts[0]!.start, parts[0]!.end);
      if (!oid.equals(SUBJECT_KEY_IDENTIFIER_OID)) continue;
      const value = parts[parts.length - 1]!; // extnValue OCTET STRING wrapping an OCTET STRING
      const inner = readTlv(der, value.contentStart);
      keyIdentifier = Buffer.from(der.subarray(inner.contentStart, inner.end));
    }
  }
  return { subjectDer: Buffer.from(der.subarray(subject.start, subject.end)), keyIdentifier };
}

/**
 * Parses and checks a CA pair: the certificate must be a CA, currently valid, and match the key.
 * `names` labels the files in error messages.
 */
export function loadCa(certPem: string, keyPem: string, names: { certFile: string; keyFile: string }, now = new Date()): LoadedCa {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch (error) {
    throw new CaError(`${names.certFile} does not hold a PEM certificate`, { cause: error });
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch {
    // No cause: the underlying message could echo part of the key file.
    throw new CaError(`${names.keyFile} does not hold an unencrypted PEM private key (passphrase-protected keys are not supported)`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new CaError(`${names.certFile} and ${names.keyFile} do not belong together (the key does not match the certificate); restore the right pair or delete both to create a new CA`);
  }
  if (!x509.ca) throw new CaError(`${names.certFile} is not a CA certificate (basicConstraints CA:TRUE missing)`);
  if (new Date(x509.validTo).getTime() <= now.getTime()) {
    throw new CaError(`${names.certFile} expired on ${x509.validTo}; replace it (or delete both CA files to create a new CA)`);
  }
  const { subjectDer, keyIdentifier } = subjectAndKeyIdentifier(x509.raw);
  const issuer: Issuer = {
    privateKey,
    algorithm: signatureAlgorithmFor(privateKey),
    subjectDer,
    keyIdentifier: keyIdentifier ?? keyIdentifierFor(x509.publicKey),
  };
  return { certPem: x509.toString(), x509, issuer };
}
