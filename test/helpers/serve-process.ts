/**
 * `veil serve` as a real child process: starts it, waits for the JSON "ready" line on stdout and
 * hands back the URLs, the admin key and a stop(). Reusable for proxy tests: pass `proxy: true`
 * (the default is --no-proxy) and any extra args/env.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { assertBuilt, CLI_PATH, cleanEnv } from './cli.js';
import { makeTempDir } from './temp-dir.js';

export interface ReadyLine {
  msg: 'ready';
  apiUrl: string;
  proxyUrl?: string;
  [field: string]: unknown;
}

export interface ServeProcessOptions {
  /** Reuse a data directory (restart tests); default: a fresh temp dir removed by stop(). */
  dataDir?: string;
  /** Start the egress proxy on 127.0.0.1:0 too (default false: --no-proxy). */
  proxy?: boolean;
  /** Extra CLI args after `serve ...`. */
  args?: string[];
  /** Extra env (VEIL_* from the parent are never inherited). */
  env?: Record<string, string | undefined>;
  /** How long to wait for the ready line. Default 60 s. */
  readyTimeoutMs?: number;
}

export interface ServeProcess {
  ready: ReadyLine;
  apiUrl: string;
  proxyUrl: string | undefined;
  dataDir: string;
  /** The bootstrap admin key: `<dataDir>/admin-api-key`, or VEIL_ADMIN_API_KEY when given. */
  adminApiKey: string;
  child: ChildProcess;
  /** Every stdout line so far (JSON log lines). */
  stdoutLines: string[];
  /** stderr so far. */
  stderr(): string;
  /** Sends `signal` (default SIGTERM) and waits for the exit (SIGKILL after 15 s). Removes a temp data dir unless keepDataDir. */
  stop(options?: { signal?: NodeJS.Signals; keepDataDir?: boolean }): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();
// Never leave servers behind if a test file dies early.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startServeProcess(options: ServeProcessOptions = {}): Promise<ServeProcess> {
  assertBuilt();
  const temp = options.dataDir ? undefined : makeTempDir('veil-serve-');
  const dataDir = options.dataDir ?? temp!.path;
  const args = [CLI_PATH, 'serve', '--data-dir', dataDir, '--api-listen', '127.0.0.1:0'];
  args.push(...(options.proxy ? ['--proxy-listen', '127.0.0.1:0'] : ['--no-proxy']), ...(options.args ?? []));
  const child = spawn(process.execPath, args, {
    env: cleanEnv({ VEIL_CA_DIR: join(dataDir, 'certs'), ...options.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);

  const stdoutLines: string[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });

  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`no ready line within ${options.readyTimeoutMs ?? 60_000} ms`)), options.readyTimeoutMs ?? 60_000);
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      temp?.remove();
      reject(new Error(`${error.message}\nstdout:\n${stdoutLines.join('\n')}\nstderr:\n${stderr}`));
    };
    createInterface({ input: child.stdout! }).on('line', (line) => {
      stdoutLines.push(line);
      try {
        const parsed = JSON.parse(line) as Partial<ReadyLine>;
        if (!settled && parsed.msg === 'ready' && typeof parsed.apiUrl === 'string') {
          settled = true;
          clearTimeout(timer);
          resolve(parsed as ReadyLine);
        }
      } catch {
        // not JSON: ignore
      }
    });
    void exited.then(({ code, signal }) => fail(new Error(`veil serve exited (code ${code}, signal ${signal}) before it was ready`)));
  });

  const keyFile = join(dataDir, 'admin-api-key');
  const adminApiKey = options.env?.VEIL_ADMIN_API_KEY ?? (existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : '');

  return {
    ready,
    apiUrl: ready.apiUrl,
    proxyUrl: ready.proxyUrl,
    dataDir,
    adminApiKey,
    child,
    stdoutLines,
    stderr: () => stderr,
    async stop(stopOptions = {}) {
      if (child.exitCode === null && child.signalCode === null) child.kill(stopOptions.signal ?? 'SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const result = await exited;
      clearTimeout(killer);
      if (temp && !stopOptions.keepDataDir) temp.remove();
      return result;
    },
  };
}
