/**
 * Per-host server certificates. One RSA 2048 leaf key is generated (off the loop) when the CA
 * starts and shared by every leaf: per host we only build a TBSCertificate with forge and sign it
 * with node:crypto in the thread pool, so minting a never-seen host costs the event loop well under
 * a millisecond. RSA for the leaf because every client negotiates RSA signatures.
 */
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { octetString } from './ca-certificate.js';
import type { CertificateHost } from './host-name.js';
import { randomSerialHex } from './serial.js';
import { keyIdentifierFor, signCertificate, type Issuer } from './signing.js';

const generateKeyPairAsync = promisify(generateKeyPair);
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
export const DEFAULT_LEAF_VALIDITY_DAYS = 7;
/** Apple rejects TLS server certificates valid for more than 398 days. */
export const MAX_LEAF_VALIDITY_DAYS = 397;
const MAX_COMMON_NAME = 64; // ub-common-name (RFC 5280)

type Extension = Record<string, unknown>;

export class LeafMinter {
  private constructor(
    /** PEM (PKCS#8) of the shared leaf key. */
    readonly keyPem: string,
    private readonly publicKey: forge.pki.rsa.PublicKey,
    private readonly issuer: Issuer,
    private readonly caNotAfter: Date,
    private readonly validityMs: number,
    /** basicConstraints, keyUsage, EKU, SKI, AKI: the same for every leaf, encoded once. */
    private readonly fixedExtensions: readonly Extension[],
  ) {}

  static async create(issuer: Issuer, caNotAfter: Date, validityDays = DEFAULT_LEAF_VALIDITY_DAYS): Promise<LeafMinter> {
    if (!(validityDays > 0 && validityDays <= MAX_LEAF_VALIDITY_DAYS)) {
      throw new RangeError(`leaf validity must be between 1 and ${MAX_LEAF_VALIDITY_DAYS} days`);
    }
    const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
    const forgeKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    return new LeafMinter(keyPem, forgeKey, issuer, caNotAfter, validityDays * DAY_MS, encodeFixedExtensions(publicKey, issuer));
  }

  /** A certificate (PEM) for `host`, signed by the CA. Synchronous part: building the TBS. */
  async mint(host: CertificateHost, now = Date.now()): Promise<string> {
    const cert = forge.pki.createCertificate();
    cert.publicKey = this.publicKey;
    cert.serialNumber = randomSerialHex();
    cert.validity.notBefore = new Date(now - HOUR_MS);
    cert.validity.notAfter = new Date(Math.min(now + this.validityMs, this.caNotAfter.getTime()));
    const subject = [{ shortName: 'CN', value: host.name.slice(0, MAX_COMMON_NAME), valueTagClass: forge.asn1.Type.UTF8 }];
    cert.setSubject(subject as unknown as forge.pki.CertificateField[]);
    // The issuer Name is replaced by the CA's exact subject bytes when signing.
    const altName = host.kind === 'ip' ? { type: 7, ip: host.name } : { type: 2, value: host.name };
    cert.setExtensions([...this.fixedExtensions.map((extension) => ({ ...extension })), { name: 'subjectAltName', altNames: [altName] }]);
    return signCertificate(cert, this.issuer);
  }
}

function encodeFixedExtensions(leafPublicKey: KeyObject, issuer: Issuer): Extension[] {
  const scratch = forge.pki.createCertificate();
  scratch.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectKeyIdentifier', value: octetString(keyIdentifierFor(leafPublicKey)) },
    { name: 'authorityKeyIdentifier', keyIdentifier: issuer.keyIdentifier.toString('binary') },
  ]);
  // forge filled in each `value`; later setExtensions calls keep a present value as is.
  return scratch.extensions as Extension[];
}
