/** `veil secrets create` on a terminal: prompts, echoes nothing, stores exactly what was typed. */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SandboxService } from '../../src/client/index.js';
import { CLI_PATH, cleanEnv, runCli } from '../helpers/cli.js';
import { runOnTerminal } from '../helpers/pty.js';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });


let server: ServeProcess;
beforeAll(async () => {
  server = await startServeProcess();
});
afterAll(async () => {
  await server?.stop();
});

describe('value prompt on a terminal', () => {
  it('reads the value without echoing it', async () => {
    const value = 'typed-on-a-tty-Rf5Tg6Yh7';
    const env = cleanEnv({ VEIL_API_URL: server.apiUrl, VEIL_API_KEY: server.adminApiKey });
    // Typed as soon as the prompt starts: echo must already be off by then.
    const result = await runOnTerminal([process.execPath, CLI_PATH, 'secrets', 'create', 'TTY_SECRET', '--host', 'tty.example'], 'Value for', `${value}\r`, env);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('Value for TTY_SECRET (input hidden)');
    expect(result.output).toMatch(/placeholder:\s+veil_/);
    expect(result.output).not.toContain(value);

    const sandbox = await new SandboxService({ apiUrl: server.apiUrl, apiKey: server.adminApiKey }).create({ secrets: { V: 'TTY_SECRET' } });
    const key = (await runCli(['keys', 'create', '--org', 'default', '--scopes', 'proxy:resolve'], { env: { VEIL_DATA_DIR: server.dataDir } })).stdout.trim();
    const resolved = await new SandboxService({ apiUrl: server.apiUrl, apiKey: key }).resolve(sandbox.id);
    expect(resolved.map((secret) => secret.value)).toEqual([value]);
  });
});
