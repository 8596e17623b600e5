/** `veil ca init|show|path` as the CLI will call them. */
import { X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { caInit, caPath, caShow } from '../../src/ca/commands.js';
import { CaError } from '../../src/ca/errors.js';
import { opensslCa, removeTempDirs, tempDir } from './support.js';

afterAll(removeTempDirs);

test('path and show refuse a CA that does not exist yet (and create nothing)', async () => {
  const dir = join(await tempDir(), 'certs');
  await expect(caPath({ dir })).rejects.toThrow(new CaError(`no CA certificate at ${join(dir, 'ca.pem')}; run \`veil ca init\` to create one`));
  await expect(caShow({ dir })).rejects.toBeInstanceOf(CaError);
  await expect(readdir(dir)).rejects.toMatchObject({ code: 'ENOENT' });
});

test('init creates the CA once; path and show describe it', async () => {
  const dir = join(await tempDir(), 'certs');
  const created = await caInit({ dir });
  const certFile = join(dir, 'ca.pem');
  const x509 = new X509Certificate(await readFile(certFile));
  expect(created).toContain('Created a new Veil CA.');
  expect(created).toContain(`certificate: ${certFile}`);
  expect(created).toContain(`private key: ${join(dir, 'ca-key.pem')}`);
  expect(created).toContain(`SHA-256 fingerprint: ${x509.fingerprint256}`);
  expect(created).not.toContain('PRIVATE KEY');

  const again = await caInit({ dir });
  expect(again).toContain('Using the existing Veil CA.');
  expect(again).toContain(x509.fingerprint256);

  expect(await caPath({ dir })).toBe(certFile);

  const shown = await caShow({ dir });
  expect(shown).toContain(`file: ${certFile}`);
  expect(shown).toMatch(/subject: CN=Veil Local CA [0-9a-f]{8}, O=Veil/);
  expect(shown).toContain(`SHA-256 fingerprint: ${x509.fingerprint256}`);
  expect(shown).toContain(`not after: ${x509.validTo}`);
  expect(shown).toContain(x509.toString().trim());
  expect(shown).not.toContain('PRIVATE KEY');
});

test('explicit files: init checks the pair without writing, path points at the given certificate', async () => {
  const dir = await tempDir();
  const files = await opensslCa(dir, 'ec');
  const listing = (await readdir(dir)).sort();
  expect(await caInit(files)).toContain('Using the existing Veil CA.');
  expect(await caPath(files)).toBe(files.certFile);
  expect(await caShow(files)).toContain('subject: CN=User ec CA, O=Example Org');
  expect((await readdir(dir)).sort()).toEqual(listing);
  const bad = { certFile: files.certFile, keyFile: join(dir, 'nope.pem') };
  await expect(caInit(bad)).rejects.toThrow(/does not exist/);
});
