import type { Secret, SecretLocation, UpdateSecretParams } from '../../client/index.js';
import { UsageError } from '../../config/index.js';
import { expectPositionals, parseCommandArgs, splitSubcommand, splitList, showSubcommandHelp } from '../args.js';
import type { CliContext, Command } from '../context.js';
import { listOrDash, orDash, printFields, printJson, printTable } from '../output.js';
import { openSecretsBackend, type SecretsBackend } from '../../runtime/secrets-backend.js';
import { commandTarget, REMOTE_FLAGS } from '../remote.js';
import { readSecretValue } from '../secret-input.js';

const HELP = `Usage: veil secrets <subcommand> [options]

Manage the organization's secrets on the control plane (VEIL_API_URL, VEIL_API_KEY), or, when no
API URL is set or --data-dir is given, directly in the data directory (VEIL_DATA_DIR, default
./.veil; "create" initializes it) for local use with "veil run".

Subcommands:
  list                          list secrets
  get <idOrName>                show one secret (never its value)
  create <name> [options]       create a secret; the value comes from stdin or --value-file
  update <idOrName> [options]   change name, description, hosts, locations and/or value
  delete <idOrName>             delete a secret (and its sandbox mounts)

Options for create/update:
  --description TEXT            free text
  --host HOST                   allowed destination host (repeatable or comma-separated;
                                exact name or *.example.com; no ports)
  --location header|url|body    where the value may be substituted (repeatable; default header,url)
  --value-file FILE             read the value from FILE ("-" = stdin)
  --name NAME                   (update) rename the secret

The value is never accepted on the command line. create reads it from stdin when stdin is not a
terminal (else it prompts without echo), or from --value-file. update changes the value only with --value-file (use
"--value-file -" for stdin). Exactly one trailing newline is stripped from the value.

Common options:
  --json                        machine-readable output
  --api-url URL                 overrides VEIL_API_URL
  --data-dir DIR                work on this data directory (local mode)
  -h, --help                    this help
`;

const FLAGS = {
  ...REMOTE_FLAGS,
  'data-dir': { type: 'string' },
  description: { type: 'string' },
  host: { type: 'string', multiple: true },
  location: { type: 'string', multiple: true },
  'value-file': { type: 'string' },
  name: { type: 'string' },
} as const;

const LOCATIONS: readonly SecretLocation[] = ['header', 'url', 'body'];

function parseLocations(values: string[] | undefined): SecretLocation[] | undefined {
  const list = splitList(values);
  if (list.length === 0) return undefined;
  for (const location of list) {
    if (!(LOCATIONS as readonly string[]).includes(location)) {
      throw new UsageError(`--location: expected one of ${LOCATIONS.join('|')}, got ${JSON.stringify(location)}`);
    }
  }
  return list as SecretLocation[];
}

function printSecret(out: NodeJS.WritableStream, secret: Secret): void {
  printFields(out, [
    ['id', secret.id],
    ['name', secret.name],
    ['description', orDash(secret.description)],
    ['placeholder', secret.placeholder],
    ['hosts', listOrDash(secret.hosts)],
    ['locations', listOrDash(secret.locations)],
    ['created', secret.createdAt],
    ['updated', secret.updatedAt],
  ]);
}

async function run(args: string[], context: CliContext): Promise<number> {
  const [subcommand, rest] = splitSubcommand(args);
  const { values, positionals } = parseCommandArgs(rest, FLAGS);
  if (values.help || subcommand === undefined || subcommand === 'help') return showSubcommandHelp(values.help === true || subcommand === 'help', HELP, context);
  const json = values.json === true;
  const out = context.stdout;
  const onlyFor = (allowed: string[], flags: (keyof typeof values)[]) => {
    for (const flag of flags) {
      if (values[flag] !== undefined && !allowed.includes(subcommand)) throw new UsageError(`--${flag} is not valid for "secrets ${subcommand}"`);
    }
  };
  onlyFor(['create', 'update'], ['description', 'host', 'location', 'value-file']);
  onlyFor(['update'], ['name']);

  let opened: SecretsBackend | undefined;
  const backend = async () => {
    if (opened) return opened;
    const target = commandTarget(context.env, values);
    return (opened = await openSecretsBackend(target.mode, target.env, { initialize: subcommand === 'create' }));
  };
  try {
    switch (subcommand) {
      case 'list': {
        expectPositionals(positionals, []);
        const secrets = await (await backend()).list();
        if (json) printJson(out, secrets);
        else
          printTable(
            out,
            ['NAME', 'ID', 'PLACEHOLDER', 'HOSTS', 'LOCATIONS'],
            secrets.map((s) => [s.name, s.id, s.placeholder, listOrDash(s.hosts), listOrDash(s.locations)]),
            '(no secrets)',
          );
        return 0;
      }
      case 'get': {
        const [idOrName] = expectPositionals(positionals, ['idOrName']);
        const secret = await (await backend()).get(idOrName!);
        if (json) printJson(out, secret);
        else printSecret(out, secret);
        return 0;
      }
      case 'create': {
        const [name] = expectPositionals(positionals, ['name']);
        const secrets = await backend();
        const hosts = splitList(values.host);
        const locations = parseLocations(values.location);
        const value = await readSecretValue({
        valueFile: values['value-file'],
        stdin: context.stdin,
        stdinByDefault: true,
        prompt: { label: `Value for ${name} (input hidden): `, output: context.stderr },
      });
        if (value === undefined) throw new UsageError('secrets create: give the value on stdin (e.g. `veil secrets create NAME < file`) or with --value-file FILE; it is never accepted as an argument');
        const secret = await secrets.create({
          name: name!,
          value,
          ...(values.description !== undefined ? { description: values.description } : {}),
          ...(hosts.length > 0 ? { hosts } : {}),
          ...(locations ? { locations } : {}),
        });
        if (json) printJson(out, secret);
        else printSecret(out, secret);
        if (!json && secret.hosts.length === 0) {
          context.stderr.write('note: this secret has no allowed hosts, so the proxy will not substitute it anywhere (add --host)\n');
        }
        return 0;
      }
      case 'update': {
        const [idOrName] = expectPositionals(positionals, ['idOrName']);
        const secrets = await backend();
        const locations = parseLocations(values.location);
        const value = await readSecretValue({ valueFile: values['value-file'], stdin: context.stdin, stdinByDefault: false });
        const patch: UpdateSecretParams = {};
        if (values.name !== undefined) patch.name = values.name;
        if (values.description !== undefined) patch.description = values.description;
        if (values.host !== undefined) patch.hosts = splitList(values.host);
        if (locations) patch.locations = locations;
        if (value !== undefined) patch.value = value;
        if (Object.keys(patch).length === 0) throw new UsageError('secrets update: nothing to change (give --name, --description, --host, --location or --value-file)');
        const secret = await secrets.update(idOrName!, patch);
        if (json) printJson(out, secret);
        else printSecret(out, secret);
        return 0;
      }
      case 'delete': {
        const [idOrName] = expectPositionals(positionals, ['idOrName']);
        await (await backend()).delete(idOrName!);
        if (json) printJson(out, { deleted: idOrName });
        else out.write(`deleted secret ${idOrName}\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown subcommand "secrets ${subcommand}" (try: veil secrets --help)`);
    }
  } finally {
    await opened?.close();
  }
}

export const secretsCommand: Command = { name: 'secrets', summary: 'manage secrets (list, get, create, update, delete)', help: HELP, run };
