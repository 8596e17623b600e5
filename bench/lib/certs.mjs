// Bench certificates, minted with openssl into the work dir (never committed):
//  ca.pem/ca.key             bench upstream CA (the upstream's chain; Veil gets it as VEIL_UPSTREAM_CA_FILE)
//  upstream.pem/upstream.key leaf for bench.local and *.bench.local, signed by the bench CA
//  squid-ca-bundle.pem       a separate CA (cert + key) squid ssl_bump mints its leaves with
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function ossl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function mintBenchCerts(dir) {
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
  if (Object.values(files).every((f) => existsSync(f))) return files;
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
