// Bench certificates, minted with openssl into the work dir (never committed):
//  ca.pem/ca.key             bench upstream CA (the upstream's chain; Veil gets it as VEIL_UPSTREAM_CA_FILE)
//  upstream.pem/upstream.key leaf for bench.local and *.bench.local, signed by the bench CA
//  squid-ca-bundle.pem       a separate CA (cert + key) squid ssl_bump mints its leaves with
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function haveOpenssl() {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Fallback without the openssl binary (fresh CI machines): node-forge builds, RSA keys from node:crypto. */
async function mintWithForge(files) {
  const { default: forge } = await import('node-forge');
  const pki = forge.pki;
  const keys = () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    return { pem, priv: pki.privateKeyFromPem(pem), pub: pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()) };
  };
  const cert = (subjectCn, pub, issuer, signKey, ext) => {
    const c = pki.createCertificate();
    c.publicKey = pub;
    c.serialNumber = '01' + randomBytes(8).toString('hex');
    c.validity.notBefore = new Date(Date.now() - 3600_000);
    c.validity.notAfter = new Date(Date.now() + 30 * 86400_000);
    c.setSubject([{ name: 'commonName', value: subjectCn }]);
    c.setIssuer(issuer ?? [{ name: 'commonName', value: subjectCn }]);
    c.setExtensions(ext);
    c.sign(signKey, forge.md.sha256.create());
    return c;
  };
  const ca = keys();
  const caCert = cert('Veil bench upstream CA', ca.pub, null, ca.priv, [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  const leaf = keys();
  const leafCert = cert('bench.local', leaf.pub, caCert.subject.attributes, ca.priv, [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: 'bench.local' }, { type: 2, value: '*.bench.local' }] },
  ]);
  writeFileSync(files.caCert, pki.certificateToPem(caCert));
  writeFileSync(files.caKey, ca.pem);
  writeFileSync(files.upstreamCert, pki.certificateToPem(leafCert));
  writeFileSync(files.upstreamKey, leaf.pem);
}

function ossl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Mints what is missing. `minimal`: only the upstream CA + leaf (smoke mode; works without openssl). */
export async function mintBenchCerts(dir, { minimal = false } = {}) {
  const ca = join(dir, 'ca');
  mkdirSync(ca, { recursive: true });
  const files = {
    dir: ca,
    caCert: join(ca, 'ca.pem'),
    caKey: join(ca, 'ca.key'),
    upstreamCert: join(ca, 'upstream.pem'),
    upstreamKey: join(ca, 'upstream.key'),
    squidBundle: join(ca, 'squid-ca-bundle.pem'),
    squidCaCert: join(ca, 'squid-ca.pem'),
  };
  const needed = minimal ? [files.caCert, files.caKey, files.upstreamCert, files.upstreamKey] : Object.values(files).filter((f) => f !== ca);
  if (needed.every((f) => existsSync(f))) return files;
  if (minimal && !haveOpenssl()) {
    await mintWithForge(files);
    return files;
  }
  ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key',
    '-out', 'ca.pem', '-days', '30', '-subj', '/CN=Veil bench upstream CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], ca);
  writeFileSync(join(ca, 'upstream.ext'),
    'subjectAltName=DNS:bench.local,DNS:*.bench.local\nbasicConstraints=CA:FALSE\n' +
    'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'upstream.key',
    '-out', 'upstream.csr', '-subj', '/CN=bench.local'], ca);
  ossl(['x509', '-req', '-in', 'upstream.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'upstream.pem', '-days', '30', '-extfile', 'upstream.ext'], ca);
  // squid's bump CA: RSA 2048 (squid reuses this key for every leaf it mints)
  ossl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'squid-ca.key', '-out', 'squid-ca.pem',
    '-days', '30', '-subj', '/CN=Veil bench squid bump CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], ca);
  writeFileSync(files.squidBundle,
    readFileSync(join(ca, 'squid-ca.pem'), 'utf8') + readFileSync(join(ca, 'squid-ca.key'), 'utf8'));
  return files;
}
