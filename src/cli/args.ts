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
    return parseArgs({ args, options: { ...COMMON_FLAGS, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(message.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

/** Exactly `count` positionals, else a usage error naming what is expected. */
export function expectPositionals(positionals: string[], names: string[]): string[] {
  if (positionals.length !== names.length) {
    const wanted = names.map((name) => `<${name}>`).join(' ') || 'no arguments';
    throw new UsageError(`expected ${wanted}, got ${positionals.length === 0 ? 'none' : positionals.map((p) => JSON.stringify(p)).join(' ')}`);
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
