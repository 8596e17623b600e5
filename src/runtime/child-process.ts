/**
 * Runs the child of `veil run` in the foreground: stdio inherited, signals relayed, exit status
 * mapped the way shells do (the child's code, or 128 + signal number when a signal killed it).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

export const RELAYED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface ChildExit {
  /** What `veil run` exits with. */
  exitCode: number;
  /** The signal that ended the child, if one did. */
  signal: NodeJS.Signals | null;
}

/** Shell convention: 128 + the signal's number. */
export function exitCodeForSignal(signal: NodeJS.Signals): number {
  const number = (constants.signals as Record<string, number | undefined>)[signal];
  return 128 + (number ?? 0);
}

export interface RunChildOptions {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string | undefined;
  /** Called once when a relayed signal arrives (e.g. to log "stopping"). */
  onSignal?: ((signal: NodeJS.Signals) => void) | undefined;
  /**
   * Whether SIGINT sent to Veil is passed on. Default: only when stdin is not a terminal. In a
   * terminal, Ctrl-C already reaches the child (same foreground process group); relaying it too
   * would deliver it twice, and interactive programs (agents among them) treat a quick second
   * Ctrl-C as "exit now" instead of "cancel".
   */
  relaySigint?: boolean | undefined;
}

/**
 * Spawns the command (looked up on the child's PATH) and resolves when it has exited. While it runs,
 * SIGINT/SIGTERM/SIGHUP sent to this process are passed on to the child instead of ending Veil, so
 * Veil can clean up (delete the sandbox) after the child is gone. Ctrl-C in a terminal reaches the
 * child directly (same process group): see `relaySigint`.
 * A command that cannot be started resolves with 127 (not found) or 126 (not executable).
 */
export function runChild(options: RunChildOptions, stderr: NodeJS.WritableStream = process.stderr): Promise<ChildExit> {
  return new Promise((resolve) => {
    const child = spawn(options.command, options.args, {
      env: options.env,
      cwd: options.cwd,
      stdio: 'inherit',
    });
    const relays = new Map<NodeJS.Signals, () => void>();
    const detach = () => {
      for (const [signal, relay] of relays) process.removeListener(signal, relay);
      relays.clear();
    };
    const relaySigint = options.relaySigint ?? !process.stdin.isTTY;
    for (const signal of RELAYED_SIGNALS) {
      const relay = () => {
        options.onSignal?.(signal);
        if (signal === 'SIGINT' && !relaySigint) return; // the terminal delivered it already
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      };
      relays.set(signal, relay);
      process.on(signal, relay);
    }
    let settled = false;
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      detach();
      const notFound = error.code === 'ENOENT';
      stderr.write(`veil: ${notFound ? 'command not found' : 'cannot run'}: ${options.command}${notFound ? '' : ` (${error.code ?? error.message})`}\n`);
      resolve({ exitCode: notFound ? 127 : 126, signal: null });
    });
    child.on('exit', (code, signal) => {
      if (settled) return;
      settled = true;
      detach();
      if (signal) resolve({ exitCode: exitCodeForSignal(signal), signal });
      else resolve({ exitCode: code ?? 1, signal: null });
    });
  });
}
