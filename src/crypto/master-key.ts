/**
 * The master key wraps every data key. Either it comes from VEIL_MASTER_KEY (base64 of 32 bytes)
 * or it lives in `<dataDir>/master.key` (base64 text, mode 0600), created on first start.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

export const MASTER_KEY_LENGTH = 32;
export const MASTER_KEY_FILE = 'master.key';

export class MasterKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MasterKeyError';
  }
}

/** Strict base64 / base64url decoding of exactly 32 bytes. Errors never echo the input. */
export function decodeMasterKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    throw new MasterKeyError(`${source} must be base64 of exactly ${MASTER_KEY_LENGTH} bytes (it contains characters outside the base64 alphabet)`);
  }
  const decoded = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (decoded.length !== MASTER_KEY_LENGTH) {
    throw new MasterKeyError(`${source} must be base64 of exactly ${MASTER_KEY_LENGTH} bytes (it decodes to ${decoded.length} bytes); generate one with: openssl rand -base64 32`);
  }
  return decoded;
}

/** Creates a directory (and parents) with mode 0700 if it does not exist. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
}

/**
 * Writes `content` to `file` only if `file` does not exist yet, atomically: the content goes to
 * a temp file first, then `link()` publishes it (link fails with EEXIST if another process won).
 * Readers therefore never see a half-written file. Returns true if this call created the file.
 */
export async function writeFileExclusive(file: string, content: string, mode = 0o600): Promise<boolean> {
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await fs.open(temp, 'wx', mode);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.link(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await fs.unlink(temp).catch(() => undefined);
  }
}

export interface LoadMasterKeyOptions {
  /** Value of VEIL_MASTER_KEY, if set. Takes precedence over the file. */
  env?: string | undefined;
  dataDir: string;
}

export interface LoadedMasterKey {
  key: Buffer;
  source: 'env' | 'file';
  /** true when this call generated and wrote `<dataDir>/master.key`. */
  created: boolean;
  file: string | null;
}

export async function loadOrCreateMasterKey(options: LoadMasterKeyOptions): Promise<LoadedMasterKey> {
  if (options.env !== undefined && options.env !== '') {
    return { key: decodeMasterKey(options.env, 'VEIL_MASTER_KEY'), source: 'env', created: false, file: null };
  }
  await ensurePrivateDir(options.dataDir);
  const file = join(options.dataDir, MASTER_KEY_FILE);
  const existing = await readKeyFile(file);
  if (existing) return { key: existing, source: 'file', created: false, file };
  const fresh = randomBytes(MASTER_KEY_LENGTH);
  const created = await writeFileExclusive(file, `${fresh.toString('base64')}\n`);
  if (created) return { key: fresh, source: 'file', created: true, file };
  // Another process created it first: use theirs.
  const winner = await readKeyFile(file);
  if (!winner) throw new MasterKeyError(`${file} disappeared while starting`);
  return { key: winner, source: 'file', created: false, file };
}

async function readKeyFile(file: string): Promise<Buffer | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  return decodeMasterKey(text, file);
}
