/**
 * Reading the CA pair from disk, and creating Veil's managed pair on first start. Creation is safe
 * when several processes start at once: each writes complete temp files, then publishes them with
 * link(2), which fails with EEXIST if the name is taken (O_EXCL semantics). The key is published
 * first; the loser of the race discards its pair and reads the winner's.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCaMaterial, type CaMaterial } from './ca-certificate.js';
import { CaError } from './errors.js';
import type { ResolvedCaLocation } from './location.js';

/** The subset of a pino logger the CA uses. */
export interface CaLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface CaFiles extends CaMaterial {
  /** True when this call created the pair. */
  created: boolean;
}

/** How long a reader waits for a concurrent creator to publish ca.pem after ca-key.pem. */
const PUBLISH_WAIT_MS = 3_000;
const POLL_MS = 25;
const KEY_MODE = 0o600;
const CERT_MODE = 0o644;

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Writes `content` to a new file with `mode` (exactly, whatever the umask) and fsyncs it. */
async function writeNewFile(path: string, content: string, mode: number): Promise<void> {
  const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await handle.chmod(mode);
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Publishes `temp` under `target` unless `target` exists. False when someone else was first. */
async function publishExclusive(temp: string, target: string, content: string, mode: number): Promise<boolean> {
  try {
    await link(temp, target);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // Filesystems without hard links: an O_EXCL create is still exclusive (contents land a moment later).
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
  }
  try {
    await writeNewFile(target, content, mode);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** Creates and publishes a new pair; false when another process published first. */
async function tryCreate(location: { dir: string; certFile: string; keyFile: string }): Promise<boolean> {
  const material = await createCaMaterial();
  const suffix = `${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const tempKey = join(location.dir, `.${basename(location.keyFile)}.${suffix}`);
  const tempCert = join(location.dir, `.${basename(location.certFile)}.${suffix}`);
  try {
    await writeNewFile(tempKey, material.keyPem, KEY_MODE);
    await writeNewFile(tempCert, material.certPem, CERT_MODE);
    if (!(await publishExclusive(tempKey, location.keyFile, material.keyPem, KEY_MODE))) return false;
    // We own the key name now; a ca.pem already there can only be a stray file: the load reports the mismatch.
    return await publishExclusive(tempCert, location.certFile, material.certPem, CERT_MODE);
  } finally {
    await Promise.all([unlink(tempKey).catch(() => {}), unlink(tempCert).catch(() => {})]);
  }
}

async function warnIfKeyReadable(keyFile: string, logger: CaLogger | undefined): Promise<void> {
  if (process.platform === 'win32' || !logger) return;
  const { mode } = await stat(keyFile);
  if ((mode & 0o077) !== 0) {
    logger.warn(
      { keyFile, mode: `0${(mode & 0o777).toString(8)}` },
      'CA private key file is readable by group or others; run chmod 600 on it',
    );
  }
}

async function readPair(certFile: string, keyFile: string, logger: CaLogger | undefined): Promise<CaMaterial> {
  await warnIfKeyReadable(keyFile, logger);
  const [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { certPem, keyPem };
}

/** The explicitly configured pair: both files must exist; they are only ever read. */
async function readExplicitFiles(certFile: string, keyFile: string, logger: CaLogger | undefined): Promise<CaFiles> {
  for (const [file, variable] of [
    [certFile, 'VEIL_CA_CERT_FILE'],
    [keyFile, 'VEIL_CA_KEY_FILE'],
  ] as const) {
    if (!(await exists(file))) throw new CaError(`CA file ${file} (${variable}) does not exist`);
  }
  return { ...(await readPair(certFile, keyFile, logger)), created: false };
}

/** Veil's managed pair in `dir`: read it, or create it when neither file exists. */
async function readOrCreateInDir(
  location: { dir: string; certFile: string; keyFile: string },
  logger: CaLogger | undefined,
): Promise<CaFiles> {
  await mkdir(location.dir, { recursive: true, mode: 0o700 });
  const deadline = Date.now() + PUBLISH_WAIT_MS;
  let created = false;
  let creationAttempts = 0;
  // Bounded: each pass either returns, throws, or sleeps; the wait for a half-published pair has a deadline.
  for (let pass = 0; pass < PUBLISH_WAIT_MS / POLL_MS + 10; pass++) {
    const [hasCert, hasKey] = await Promise.all([exists(location.certFile), exists(location.keyFile)]);
    if (hasCert && hasKey) {
      if (created) logger?.info({ certFile: location.certFile }, 'created a new Veil CA');
      return { ...(await readPair(location.certFile, location.keyFile, logger)), created };
    }
    if (hasCert) {
      throw new CaError(`found ${location.certFile} but not ${location.keyFile}; restore the key, or delete ${location.certFile} to create a new CA`);
    }
    if (!hasKey) {
      // A second lost race with both names still unreadable means something odd sits there (a dangling symlink).
      if (creationAttempts++ >= 2) {
        throw new CaError(`could not create the CA in ${location.dir}: ${location.keyFile} or ${location.certFile} exists but cannot be read`);
      }
      created = await tryCreate(location);
      continue;
    }
    // Only the key: a concurrent creator is between its two links, or one crashed there.
    if (Date.now() > deadline) {
      throw new CaError(`found ${location.keyFile} but not ${location.certFile}; restore the certificate, or delete ${location.keyFile} to create a new CA`);
    }
    await sleep(POLL_MS);
  }
  throw new CaError(`could not read or create the CA in ${location.dir}`);
}

export async function readOrCreateCaFiles(location: ResolvedCaLocation, logger?: CaLogger): Promise<CaFiles> {
  if (location.kind === 'files') return readExplicitFiles(location.certFile, location.keyFile, logger);
  return readOrCreateInDir(location, logger);
}

/** The pair as it is on disk, without creating anything (for `veil ca show|path`). */
export async function caFilesPresent(location: ResolvedCaLocation): Promise<{ cert: boolean; key: boolean }> {
  const [cert, key] = await Promise.all([exists(location.certFile), exists(location.keyFile)]);
  return { cert, key };
}
