import type { Env } from '../config/index.js';

/** What a command may touch: passed in so commands never reach for globals directly. */
export interface CliContext {
  env: Env;
  stdin: NodeJS.ReadStream | NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  version: string;
}

export interface Command {
  /** First word after `veil`. */
  name: string;
  /** One line for `veil --help`. */
  summary: string;
  /** Full text for `veil <name> --help`. */
  help: string;
  /** Returns the exit code. Throw UsageError for bad input (exit 2), anything else exits 1. */
  run(args: string[], context: CliContext): Promise<number>;
}
