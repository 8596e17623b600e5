/**
 * Certificates are *built* with node-forge (it knows X.509 structure and extensions) but *signed*
 * with node:crypto: forge's pure-JS RSA signing costs tens of milliseconds of blocked event loop,
 * while `crypto.sign` with a callback runs in libuv's thread pool. We take forge's TBSCertificate,
 * put in the issuer's exact subject bytes and the right AlgorithmIdentifier, sign the DER and wrap
 * it into a Certificate ourselves.
 */
import { createHash, sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { children, derBitString, derSequence, derToPem, readTlv } from './der.js';
import { CaError } from './errors.js';

const asn1 = forge.asn1;

/** forge has `pki.getTBSCertificate` but its type definitions do not declare it. */
const getTBSCertificate = (forge.pki as unknown as { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 })
  .getTBSCertificate;

export interface SignatureAlgorithm {
  oid: string;
  /** DER of the AlgorithmIdentifier SEQUENCE, used in the TBS and in the Certificate. */
  identifierDer: Buffer;
}

const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

function algorithmIdentifierDer(oid: string, withNullParameters: boolean): Buffer {
  const parts = [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes())];
  if (withNullParameters) parts.push(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''));
  return Buffer.from(asn1.toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, parts)).getBytes(), 'binary');
}

/** SHA-256 with the key's algorithm: RSA PKCS#1 v1.5 (NULL parameters) or ECDSA (no parameters, RFC 5758). */
export function signatureAlgorithmFor(key: KeyObject): SignatureAlgorithm {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { oid: SHA256_WITH_RSA, identifierDer: algorithmIdentifierDer(SHA256_WITH_RSA, true) };
    case 'ec':
      return { oid: ECDSA_WITH_SHA256, identifierDer: algorithmIdentifierDer(ECDSA_WITH_SHA256, false) };
    default:
      throw new CaError(`CA key type ${String(key.asymmetricKeyType)} is not supported (use RSA or EC P-256/P-384)`);
  }
}

/** Who signs: the CA's private key plus what a child certificate copies from the CA certificate. */
export interface Issuer {
  privateKey: KeyObject;
  algorithm: SignatureAlgorithm;
  /** DER of the CA certificate's subject Name, copied byte for byte into `issuer`. */
  subjectDer: Buffer;
  /** The CA's subjectKeyIdentifier (goes into the child's authorityKeyIdentifier). */
  keyIdentifier: Buffer;
}

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey BIT STRING value (without the unused-bits byte). */
export function keyIdentifierFor(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const bitString = children(spki, readTlv(spki, 0))[1];
  if (!bitString || bitString.tag !== 0x03) throw new CaError('malformed public key');
  return createHash('sha1').update(spki.subarray(bitString.contentStart + 1, bitString.end)).digest();
}

function signAsync(data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // With a callback, node:crypto signs in the thread pool instead of on the event loop.
    sign('sha256', data, key, (error, signature) => (error ? reject(error) : resolve(signature)));
  });
}

/**
 * Signs a forge certificate (everything but issuer and signature filled in) with `issuer`,
 * returning PEM. Mutates `cert.siginfo`/`cert.signatureOid` so forge's TBS names the algorithm.
 */
export async function signCertificate(cert: forge.pki.Certificate, issuer: Issuer): Promise<string> {
  cert.siginfo.algorithmOid = issuer.algorithm.oid;
  cert.signatureOid = issuer.algorithm.oid;
  const tbs = getTBSCertificate(cert);
  const fields = tbs.value as forge.asn1.Asn1[];
  // forge always emits version [0], so: 0 version, 1 serial, 2 signature, 3 issuer.
  fields[2] = asn1.fromDer(issuer.algorithm.identifierDer.toString('binary'));
  fields[3] = asn1.fromDer(issuer.subjectDer.toString('binary'));
  const tbsDer = Buffer.from(asn1.toDer(tbs).getBytes(), 'binary');
  const signature = await signAsync(tbsDer, issuer.privateKey);
  return derToPem(derSequence(tbsDer, issuer.algorithm.identifierDer, derBitString(signature)), 'CERTIFICATE');
}
