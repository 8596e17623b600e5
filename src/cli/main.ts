#!/usr/bin/env node
/**
 * The `veil` command. Each command group is a module in ./commands exporting a `Command`; add new
 * ones (proxy, ca, ...) to COMMANDS below and they appear in `veil --help`.
 */
import { readFileSync } from 'node:fs';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { VeilApiError } from '../client/index.js';
import { UsageError } from '../config/index.js';
import type { CliContext, Command } from './context.js';

/**
 * The command registry, in `veil --help` order. Modules load only when their command runs, so a
 * quick `veil secrets list` does not pay for fastify, SQLite, undici and node-forge.
 */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: CommandEntry[] = [
  { name: 'serve', summary: 'run the control plane API and the egress proxy', load: async () => (await import('./commands/serve.js')).serveCommand },
  { name: 'proxy', summary: 'run the egress proxy alone against a remote control plane', load: async () => (await import('./commands/proxy.js')).proxyCommand },
  { name: 'secrets', summary: 'manage secrets (list, get, create, update, delete)', load: async () => (await import('./commands/secrets.js')).secretsCommand },
  { name: 'sandboxes', summary: 'manage sandboxes (create, list, get, delete, mount)', load: async () => (await import('./commands/sandboxes.js')).sandboxesCommand },
  { name: 'orgs', summary: 'manage organizations (create, list)', load: async () => (await import('./commands/orgs.js')).orgsCommand },
  { name: 'keys', summary: 'create API keys', load: async () => (await import('./commands/keys.js')).keysCommand },
  { name: 'ca', summary: "manage Veil's CA for TLS interception (init, show, path)", load: async () => (await import('./commands/ca.js')).caCommand },
  { name: 'run', summary: 'run a command with placeholders, proxy and trust settings', load: async () => (await import('./commands/run.js')).runCommand },
  { name: 'env', summary: "print a sandbox's env (placeholders, proxy, trust) for shell, dotenv or JSON", load: async () => (await import('./commands/env.js')).envCommand },
];

function readVersion(): string {
  try {
    // dist/cli/main.js and src/cli/main.ts both sit two levels below package.json.
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function topLevelHelp(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return `Usage: veil <command> [options]

Veil lets untrusted code use API keys without holding them: a secrets control plane plus an
egress proxy that swaps placeholders for real values only for allowed hosts.

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`).join('\n')}

Options:
  -h, --help     help (also: veil <command> --help)
  -v, --version  print the version

Environment: VEIL_API_URL and VEIL_API_KEY select the control plane for client commands;
see README.md for every setting.
`;
}

export async function runCli(argv: string[], context: CliContext): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    context.stderr.write(topLevelHelp());
    return 2;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    const target = first === 'help' ? COMMANDS.find((command) => command.name === rest[0]) : undefined;
    context.stdout.write(target ? (await target.load()).help : topLevelHelp());
    return 0;
  }
  if (first === '--version' || first === '-v' || first === 'version') {
    context.stdout.write(`${context.version}\n`);
    return 0;
  }
  const entry = COMMANDS.find((candidate) => candidate.name === first);
  try {
    if (!entry) throw new UsageError(`unknown command ${JSON.stringify(first)} (try: veil --help)`);
    return await (await entry.load()).run(rest, context);
  } catch (error) {
    if (error instanceof UsageError) {
      context.stderr.write(`veil: ${error.message}\n`);
      return 2;
    }
    if (error instanceof VeilApiError) {
      context.stderr.write(`veil: ${error.message}${error.statusCode ? ` (HTTP ${error.statusCode})` : ''}\n`);
      return 1;
    }
    // Our own errors never carry secret values; print the message, not a stack.
    context.stderr.write(`veil: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

/** True when this file is the process entry point (also through the npm bin symlink). */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const context: CliContext = { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, version: readVersion() };
  runCli(process.argv.slice(2), context).then(
    (code) => {
      // `serve` keeps running and sets its own exit code on shutdown; others end here.
      if (code >= 0) process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`veil: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
