/**
 * The built `veil` CLI as a long-running child process (serve, proxy): stdout JSON log lines
 * collected and searchable, stop() with SIGTERM then SIGKILL, never left behind when tests end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { assertBuilt, CLI_PATH, cleanEnv } from './cli.js';

export type LogLine = Record<string, unknown>;
export type ExitStatus = { code: number | null; signal: NodeJS.Signals | null };

export interface VeilProcess {
  child: ChildProcess;
  /** Every stdout line so far (JSON log lines). */
  stdoutLines: string[];
  stderr(): string;
  /** The first stdout JSON line matching, waiting up to timeoutMs; rejects if the process exits first. */
  waitForLine(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends `signal` (default SIGTERM) and waits for the exit (SIGKILL after 15 s). */
  stop(signal?: NodeJS.Signals): Promise<ExitStatus>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Runs `veil <args>` with a clean env (no inherited VEIL_*) plus `env`, node started with `nodeArgs`. */
export function spawnVeil(args: string[], env: Record<string, string | undefined> = {}, nodeArgs: readonly string[] = []): VeilProcess {
  assertBuilt();
  const child = spawn(process.execPath, [...nodeArgs, CLI_PATH, ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const stdoutLines: string[] = [];
  const parsed: LogLine[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<ExitStatus>((resolve) => {
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
      for (const wake of waiters) wake();
    });
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    stdoutLines.push(line);
    try {
      parsed.push(JSON.parse(line) as LogLine);
    } catch {
      return; // not JSON
    }
    for (const wake of waiters) wake();
  });
  const transcript = () => `\nstdout:\n${stdoutLines.join('\n')}\nstderr:\n${stderr}`;

  const waitForLine = (match: (line: LogLine) => boolean, timeoutMs = 30_000) =>
    new Promise<LogLine>((resolve, reject) => {
      const check = () => {
        const found = parsed.find(match);
        if (found) return finish(() => resolve(found));
        if (child.exitCode !== null || child.signalCode !== null) {
          return finish(() => reject(new Error(`veil ${args[0]} exited (code ${child.exitCode}, signal ${child.signalCode})${transcript()}`)));
        }
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no matching log line within ${timeoutMs} ms${transcript()}`))), timeoutMs);
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      };
      waiters.add(check);
      check();
    });

  return {
    child,
    stdoutLines,
    stderr: () => stderr,
    waitForLine,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const result = await exited;
      clearTimeout(killer);
      return result;
    },
  };
}
