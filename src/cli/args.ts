import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../config/index.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** The flags every command understands. */
export const COMMON_FLAGS = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
} as const;

/** node:util parseArgs (strict), with its errors turned into UsageErrors (exit 2). */
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: typeof COMMON_FLAGS & O; allowPositionals: true; strict: true }>>;

export function parseCommandArgs<O extends Options>(args: string[], options: O): Parsed<O> {
  try {
    // Strict parseArgs quotes unknown options back, and an unknown option is all we'd echo:
    // `--value=xyz` would put xyz into the message, so report only the flag name.
    for (const arg of args) {
      if (arg === '--') break;
      const eq = arg.indexOf('=');
      if (arg.startsWith('--') && eq > 0 && !(arg.slice(2, eq) in options) && !(arg.slice(2, eq) in COMMON_FLAGS)) {
        throw new UsageError(`Unknown option '${arg.slice(0, eq)}'`);
      }
    }
    return parseArgs({ args, options: { ...COMMON_FLAGS, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(message.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

/** Exactly `count` positionals, else a usage error naming what is expected. */
export function expectPositionals(positionals: string[], names: string[]): string[] {
  if (positionals.length !== names.length) {
    const wanted = names.map((name) => `<${name}>`).join(' ') || 'no arguments';
    // Count only: a stray argument may be a value someone tried to pass on the command line.
    throw new UsageError(`expected ${wanted}, got ${positionals.length === 0 ? 'no arguments' : `${positionals.length} argument${positionals.length === 1 ? '' : 's'}`}`);
  }
  return positionals;
}

/** `--secret ENV=name` pairs -> `{ENV: name}`. */
export function parseMounts(values: string[] | undefined): Record<string, string> {
  const mounts: Record<string, string> = {};
  for (const value of values ?? []) {
    const eq = value.indexOf('=');
    if (eq <= 0 || eq === value.length - 1) throw new UsageError(`--secret: expected ENV=secretName, got ${JSON.stringify(value)}`);
    const env = value.slice(0, eq);
    if (env in mounts) throw new UsageError(`--secret: ${env} is given twice`);
    mounts[env] = value.slice(eq + 1);
  }
  return mounts;
}

/** Repeated flags (`--host a --host b`) plus comma lists (`--host a,b`). */
export function splitList(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((value) => value.split(',')).map((value) => value.trim()).filter((value) => value !== '');
}

/** `[sub, ...rest]`, or no subcommand when the first word is a flag (`veil secrets --help`). */
export function splitSubcommand(args: string[]): [string | undefined, string[]] {
  const [first, ...rest] = args;
  return first === undefined || first.startsWith('-') ? [undefined, args] : [first, rest];
}

/**
 * Shows a subcommand-style command's help. Asked-for help (`--help`, `help`) goes to stdout and
 * exits 0; help shown because the subcommand is missing is a usage error (stderr, exit 2).
 */
export function showSubcommandHelp(asked: boolean, help: string, output: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): number {
  (asked ? output.stdout : output.stderr).write(help);
  return asked ? 0 : 2;
}
