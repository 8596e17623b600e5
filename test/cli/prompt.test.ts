/** `veil secrets create` on a terminal: prompts, echoes nothing, stores exactly what was typed. */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SandboxService } from '../../src/client/index.js';
import { CLI_PATH, cleanEnv, runCli } from '../helpers/cli.js';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

// python3's pty gives the CLI a real terminal on stdin/stdout/stderr.
const DRIVER = String.raw`
import os, pty, sys, time, select
value = sys.argv[1].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
out = b''
deadline = time.time() + 60
sent = False
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.5)
    if ready:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    # Answer as soon as the prompt starts: echo must already be off by then.
    if not sent and b'Value for' in out:
        os.write(fd, value + b'\r')
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode('utf8', 'replace'))
sys.exit(os.waitstatus_to_exitcode(status))
`;

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
    const result = spawnSync('python3', ['-c', DRIVER, value, process.execPath, CLI_PATH, 'secrets', 'create', 'TTY_SECRET', '--host', 'tty.example'], {
      env,
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('Value for TTY_SECRET (input hidden)');
    expect(result.stdout).toMatch(/placeholder:\s+veil_/);
    expect(result.stdout).not.toContain(value);

    const sandbox = await new SandboxService({ apiUrl: server.apiUrl, apiKey: server.adminApiKey }).create({ secrets: { V: 'TTY_SECRET' } });
    const key = (await runCli(['keys', 'create', '--org', 'default', '--scopes', 'proxy:resolve'], { env: { VEIL_DATA_DIR: server.dataDir } })).stdout.trim();
    const resolved = await new SandboxService({ apiUrl: server.apiUrl, apiKey: key }).resolve(sandbox.id);
    expect(resolved.map((secret) => secret.value)).toEqual([value]);
  });
});
