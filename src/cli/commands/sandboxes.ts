import { SandboxService, type Sandbox } from '../../client/index.js';
import { UsageError } from '../../config/index.js';
import { expectPositionals, parseCommandArgs, splitSubcommand, parseMounts, showSubcommandHelp } from '../args.js';
import type { CliContext, Command } from '../context.js';
import { printFields, printJson, printTable } from '../output.js';
import { REMOTE_FLAGS } from '../remote.js';
import { clientOptionsFrom } from '../../runtime/client-options.js';

const HELP = `Usage: veil sandboxes <subcommand> [options]

Manage sandboxes: consumers that mount secrets as env vars holding placeholders.

Subcommands:
  create [--name N] [--secret ENV=secretName]...   create a sandbox; prints its proxy token once
  list                                             list sandboxes
  get <id>                                         show one sandbox and its env
  delete <id>                                      delete a sandbox
  mount <idOrName> --secret ENV=secretName...      replace the sandbox's mounts

Common options:
  --json                        machine-readable output
  --api-url URL                 overrides VEIL_API_URL
  -h, --help                    this help
`;

const FLAGS = {
  ...REMOTE_FLAGS,
  name: { type: 'string' },
  secret: { type: 'string', multiple: true },
} as const;

/** Mounts as `ENV=name` text, whatever wire shape the server used. */
function mountText(sandbox: Sandbox): string {
  const pairs = (sandbox.secrets ?? []).flatMap((entry) => Object.entries(entry).map(([env, name]) => `${env}=${name}`));
  return pairs.length > 0 ? pairs.join(',') : '-';
}

function printSandbox(out: NodeJS.WritableStream, sandbox: Sandbox): void {
  printFields(out, [
    ['id', sandbox.id],
    ['name', sandbox.name],
    ['secrets', mountText(sandbox)],
    ['created', sandbox.createdAt],
  ]);
  const env = Object.entries(sandbox.env ?? {});
  if (env.length > 0) {
    out.write('env:\n');
    for (const [name, placeholder] of env) out.write(`  ${name}=${placeholder}\n`);
  }
}

async function run(args: string[], context: CliContext): Promise<number> {
  const [subcommand, rest] = splitSubcommand(args);
  const { values, positionals } = parseCommandArgs(rest, FLAGS);
  if (values.help || subcommand === undefined || subcommand === 'help') return showSubcommandHelp(values.help === true || subcommand === 'help', HELP, context);
  const json = values.json === true;
  const out = context.stdout;
  if (values.name !== undefined && subcommand !== 'create') throw new UsageError(`--name is not valid for "sandboxes ${subcommand}"`);
  if (values.secret !== undefined && subcommand !== 'create' && subcommand !== 'mount') {
    throw new UsageError(`--secret is not valid for "sandboxes ${subcommand}"`);
  }
  const service = () => new SandboxService(clientOptionsFrom(context.env, values['api-url']));

  switch (subcommand) {
    case 'create': {
      expectPositionals(positionals, []);
      const mounts = parseMounts(values.secret);
      const sandbox = await service().create({ ...(values.name !== undefined ? { name: values.name } : {}), secrets: mounts });
      if (json) printJson(out, sandbox);
      else {
        printSandbox(out, sandbox);
        if (sandbox.proxyToken) out.write(`proxy token (shown once, the sandbox's proxy password): ${sandbox.proxyToken}\n`);
      }
      return 0;
    }
    case 'list': {
      expectPositionals(positionals, []);
      const sandboxes = await service().list();
      if (json) printJson(out, sandboxes);
      else printTable(out, ['NAME', 'ID', 'SECRETS', 'CREATED'], sandboxes.map((s) => [s.name, s.id, mountText(s), s.createdAt]), '(no sandboxes)');
      return 0;
    }
    case 'get': {
      const [id] = expectPositionals(positionals, ['id']);
      const sandbox = await service().get(id!);
      if (json) printJson(out, sandbox);
      else printSandbox(out, sandbox);
      return 0;
    }
    case 'delete': {
      const [id] = expectPositionals(positionals, ['id']);
      await service().delete(id!);
      if (json) printJson(out, { deleted: id });
      else out.write(`deleted sandbox ${id}\n`);
      return 0;
    }
    case 'mount': {
      const [idOrName] = expectPositionals(positionals, ['idOrName']);
      if (values.secret === undefined) throw new UsageError('sandboxes mount: give at least one --secret ENV=secretName');
      const sandbox = await service().updateSecrets(idOrName!, parseMounts(values.secret));
      if (json) printJson(out, sandbox);
      else printSandbox(out, sandbox);
      return 0;
    }
    default:
      throw new UsageError(`unknown subcommand "sandboxes ${subcommand}" (try: veil sandboxes --help)`);
  }
}

export const sandboxesCommand: Command = { name: 'sandboxes', summary: 'manage sandboxes (create, list, get, delete, mount)', help: HELP, run };
