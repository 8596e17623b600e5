import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/temp-dir.js';

type TempDir = ReturnType<typeof makeTempDir>;

describe('veil ca', () => {
  let temp: TempDir | undefined;
  afterEach(() => temp?.remove());

  it('path before init is an error that says how to create the CA', async () => {
    temp = makeTempDir('veil-ca-cli-');
    const result = await runCli(['ca', 'path'], { env: { VEIL_CA_DIR: join(temp.path, 'certs') } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('veil ca init');
  });

  it('init creates the CA once; show and path agree with the files', async () => {
    temp = makeTempDir('veil-ca-cli-');
    const env = { VEIL_CA_DIR: join(temp.path, 'certs') };
    const first = await runCli(['ca', 'init'], { env });
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('Created a new Veil CA.');
    const second = await runCli(['ca', 'init'], { env });
    expect(second.stdout).toContain('Using the existing Veil CA.');

    const certFile = join(temp.path, 'certs', 'ca.pem');
    expect(statSync(join(temp.path, 'certs', 'ca-key.pem')).mode & 0o777).toBe(0o600);
    const path = await runCli(['ca', 'path'], { env });
    expect(path.stdout.trim()).toBe(certFile);

    const show = await runCli(['ca', 'show'], { env });
    const fingerprint = new X509Certificate(readFileSync(certFile)).fingerprint256;
    expect(show.stdout).toContain(fingerprint);
    expect(show.stdout).toContain('-----BEGIN CERTIFICATE-----');
    expect(show.stdout).not.toContain('PRIVATE KEY');
  });

  it('an unknown subcommand is a usage error', async () => {
    const result = await runCli(['ca', 'rotate']);
    expect(result.code).toBe(2);
  });
});
