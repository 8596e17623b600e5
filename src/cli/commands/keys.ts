import type { CreateApiKeyParams, Scope } from '../../client/index.js';
import { UsageError } from '../../config/index.js';
import { SCOPES } from '../../store/types.js';
import { ADMIN_FLAGS, openAdminBackend } from '../admin-backend.js';
import { expectPositionals, parseCommandArgs, splitSubcommand, splitList, showSubcommandHelp } from '../args.js';
import type { CliContext, Command } from '../context.js';
import { orDash, printJson, printTable } from '../output.js';
import { parseDuration } from '../../service/key-expiry.js';

const HELP = `Usage: veil keys <subcommand> [options]

Subcommands:
  create --org NAME_OR_ID --scopes a,b [--sandbox ID] [--name N] [--expires-in 30d]
                 create an API key. The key is printed once, alone, as the last line of stdout:
                   export VEIL_API_KEY=$(veil keys create --org acme --scopes secrets:read,secrets:write)
  list [--org NAME_OR_ID]
                 list keys (never the keys themselves): of that org, else of every org you
                 administer (the instance admin and the data directory: all of them)
  revoke ID      revoke a key at once; its open /events streams end at the next heartbeat

Scopes: ${SCOPES.join(', ')}
  secrets:read      list/get secrets
  secrets:write     create/update/delete secrets
  sandboxes:write   create/list/get/delete sandboxes and change their mounts
  proxy:resolve     read a sandbox's real values (for a stand-alone proxy)
  admin             organizations and API keys
--sandbox ID restricts the key to one sandbox (only sandboxes:write and proxy:resolve; typical for
a sidecar proxy's proxy:resolve key).
--expires-in N[s|m|h|d] makes the key expire (e.g. 90s, 12h, 30d); afterwards it gets 401
"this API key expired". Without it the key lives until revoked.

Where it acts: as for "veil orgs" (VEIL_API_URL + VEIL_API_KEY, or the data directory).

Options:
  --data-dir DIR   work on this data directory
  --api-url URL    overrides VEIL_API_URL
  --json           machine-readable output (create: includes the key)
  -h, --help       this help
`;

const FLAGS = {
  ...ADMIN_FLAGS,
  org: { type: 'string' },
  scopes: { type: 'string', multiple: true },
  sandbox: { type: 'string' },
  name: { type: 'string' },
  'expires-in': { type: 'string' },
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
  if (subcommand !== 'create' && subcommand !== 'list' && subcommand !== 'revoke') {
    throw new UsageError(`unknown subcommand "keys ${subcommand}" (try: veil keys --help)`);
  }
  const [id] = expectPositionals(positionals, subcommand === 'revoke' ? ['id'] : []);
  const create = subcommand === 'create' ? createParams(values) : undefined;
  const backend = await openAdminBackend(context.env, values);
  try {
    if (create) {
      const key = await backend.createKey(create);
      if (values.json) printJson(context.stdout, key);
      else {
        const restriction = key.sandboxId ? `, sandbox ${key.sandboxId}` : '';
        const expiry = key.expiresAt ? `, expires ${key.expiresAt}` : '';
        context.stderr.write(`created API key ${key.id} (scopes ${key.scopes.join(',')}${restriction}${expiry}); shown once, store it now:\n`);
        context.stdout.write(`${key.key}\n`);
      }
    } else if (subcommand === 'list') {
      const keys = await backend.listKeys(values.org);
      if (values.json) printJson(context.stdout, keys);
      else {
        const rows = keys.map((key) => [key.id, key.orgId, orDash(key.name), key.scopes.join(','), orDash(key.sandboxId), key.createdAt, orDash(key.expiresAt)]);
        printTable(context.stdout, ['ID', 'ORG', 'NAME', 'SCOPES', 'SANDBOX', 'CREATED', 'EXPIRES'], rows, '(no keys)');
      }
    } else {
      await backend.revokeKey(id!);
      context.stderr.write(`revoked API key ${id} (on ${backend.where})\n`);
    }
    return 0;
  } finally {
    await backend.close();
  }
}

/** Checked before any backend opens, so a typo is a usage error (exit 2) that changes nothing. */
function createParams(values: { org?: string; scopes?: string[]; name?: string; sandbox?: string; 'expires-in'?: string }): CreateApiKeyParams {
  if (!values.org) throw new UsageError('--org NAME_OR_ID is required');
  const scopes = parseScopes(values.scopes);
  const expiresIn = values['expires-in'];
  if (expiresIn !== undefined && parseDuration(expiresIn) === null) {
    throw new UsageError(`--expires-in: expected a duration like 90s, 15m, 12h or 30d, got ${JSON.stringify(expiresIn)}`);
  }
  return {
    org: values.org,
    scopes,
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values.sandbox !== undefined ? { sandboxId: values.sandbox } : {}),
    ...(expiresIn !== undefined ? { expiresIn } : {}),
  };
}

export const keysCommand: Command = { name: 'keys', summary: 'API keys (create, list, revoke)', help: HELP, run };
