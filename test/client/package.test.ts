/** The package entry (src/index.ts) and startVeil used in-process. */
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import * as veil from '../../src/index.js';
import { createLogger } from '../../src/log/logger.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const temp = makeTempDir('veil-package-test-');
afterAll(() => temp.remove());

describe('package exports', () => {
  it('exports the client, startVeil and config', () => {
    for (const name of ['SecretService', 'SandboxService', 'OrgService', 'ApiKeyService', 'VeilApiError', 'startVeil', 'loadConfig', 'UsageError']) {
      expect(typeof (veil as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(veil.SCOPES).toContain('proxy:resolve');
  });

  it('startVeil serves in-process, logs one ready line and closes cleanly', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        callback();
      },
    });
    const config = veil.loadConfig({ 'data-dir': temp.path, 'api-listen': '127.0.0.1:0', 'no-proxy': true }, {});
    const running = await veil.startVeil(config, { logger: createLogger({ level: 'info' }, sink) });
    try {
      expect(running.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(running.proxyUrl).toBeUndefined();
      expect(running.adminApiKey).toMatch(/^veil_key_/);
      const ready = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'ready');
      expect(ready).toEqual([expect.objectContaining({ msg: 'ready', apiUrl: running.apiUrl })]);
      const secrets = new veil.SecretService({ apiUrl: running.apiUrl, apiKey: running.adminApiKey! });
      expect(await secrets.list()).toEqual([]);
      // The generated key is not logged, only announced by the CLI.
      expect(lines.join('\n')).not.toContain(running.adminApiKey);
    } finally {
      await running.close();
      await running.close(); // idempotent
    }
    await expect(fetch(`${running.apiUrl}/health`)).rejects.toThrow();
  });
});
