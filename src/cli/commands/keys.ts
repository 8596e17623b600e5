import type { Scope } from '../../client/index.js';
import { UsageError } from '../../config/index.js';
import { SCOPES } from '../../store/types.js';
import { ADMIN_FLAGS, openAdminBackend } from '../admin-backend.js';
import { expectPositionals, parseCommandArgs, splitSubcommand, splitList, showSubcommandHelp } from '../args.js';
import type { CliContext, Command } from '../context.js';
import { printJson } from '../output.js';

const HELP = `Usage: veil keys create --org NAME_OR_ID --scopes a,b [--sandbox ID] [--name N]

Create an API key. The key is printed once, alone, as the last line of stdout:
  export VEIL_API_KEY=$(veil keys create --org acme --scopes secrets:read,secrets:write)

Scopes: ${SCOPES.join(', ')}
  secrets:read      list/get secrets
  secrets:write     create/update/delete secrets
  sandboxes:write   create/list/get/delete sandboxes and change their mounts
  proxy:resolve     read a sandbox's real values (for a stand-alone proxy)
  admin             organizations and API keys
--sandbox ID restricts the key to one sandbox (typical for a sidecar proxy's proxy:resolve key).

Where it acts: as for "veil orgs" (VEIL_API_URL + VEIL_API_KEY, or the data directory).

Options:
  --data-dir DIR   work on this data directory
  --api-url URL    overrides VEIL_API_URL
  --json           machine-readable output (includes the key)
  -h, --help       this help
`;

const FLAGS = {
  ...ADMIN_FLAGS,
  org: { type: 'string' },
  scopes: { type: 'string', multiple: true },
  sandbox: { type: 'string' },
  name: { type: 'string' },
} as const;

function parseScopes(values: string[] | undefined): Scope[] {
  const scopes = splitList(values);
  if (scopes.length === 0) throw new UsageError(`--scopes is required (comma-separated: ${SCOPES.join(',')})`);
  for (const scope of scopes) {
    if (!(SCOPES as readonly string[]).includes(scope)) throw new UsageError(`--scopes: unknown scope ${JSON.stringify(scope)} (valid: ${SCOPES.join(',')})`);
  }
  return [...new Set(scopes)] as Scope[];
}

async function run(args: string[], context: CliContext): Promise<number> {
  const [subcommand, rest] = splitSubcommand(args);
  const { values, positionals } = parseCommandArgs(rest, FLAGS);
  if (values.help || subcommand === undefined || subcommand === 'help') return showSubcommandHelp(values.help === true || subcommand === 'help', HELP, context);
  if (subcommand !== 'create') throw new UsageError(`unknown subcommand "keys ${subcommand}" (try: veil keys --help)`);
  expectPositionals(positionals, []);
  if (!values.org) throw new UsageError('--org NAME_OR_ID is required');
  const scopes = parseScopes(values.scopes);
  const backend = await openAdminBackend(context.env, values);
  try {
    const key = await backend.createKey({
      org: values.org,
      scopes,
      ...(values.name !== undefined ? { name: values.name } : {}),
      ...(values.sandbox !== undefined ? { sandboxId: values.sandbox } : {}),
    });
    if (values.json) printJson(context.stdout, key);
    else {
      const restriction = key.sandboxId ? `, sandbox ${key.sandboxId}` : '';
      context.stderr.write(`created API key ${key.id} (scopes ${key.scopes.join(',')}${restriction}); shown once, store it now:\n`);
      context.stdout.write(`${key.key}\n`);
    }
    return 0;
  } finally {
    await backend.close();
  }
}

export const keysCommand: Command = { name: 'keys', summary: 'create API keys', help: HELP, run };
