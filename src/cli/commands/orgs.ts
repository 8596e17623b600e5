import { UsageError } from '../../config/index.js';
import { ADMIN_FLAGS, openAdminBackend } from '../admin-backend.js';
import { expectPositionals, parseCommandArgs, splitSubcommand, showSubcommandHelp } from '../args.js';
import type { CliContext, Command } from '../context.js';
import { printJson, printTable } from '../output.js';

const HELP = `Usage: veil orgs <subcommand> [options]

Manage organizations (needs an admin key when talking to a server).

Subcommands:
  create NAME    create an organization; prints its id as the last line of stdout
  list           list organizations

Where it acts: the control plane at VEIL_API_URL (or --api-url) with VEIL_API_KEY; when no API
URL is set, or --data-dir is given, directly on the data directory (VEIL_DATA_DIR, default
./.veil), which is safe while a server is running.

Options:
  --data-dir DIR   work on this data directory
  --api-url URL    overrides VEIL_API_URL
  --json           machine-readable output
  -h, --help       this help
`;

async function run(args: string[], context: CliContext): Promise<number> {
  const [subcommand, rest] = splitSubcommand(args);
  const { values, positionals } = parseCommandArgs(rest, ADMIN_FLAGS);
  if (values.help || subcommand === undefined || subcommand === 'help') return showSubcommandHelp(values.help === true || subcommand === 'help', HELP, context);
  if (subcommand !== 'create' && subcommand !== 'list') throw new UsageError(`unknown subcommand "orgs ${subcommand}" (try: veil orgs --help)`);
  const names = subcommand === 'create' ? ['name'] : [];
  const [name] = expectPositionals(positionals, names);
  const backend = await openAdminBackend(context.env, values);
  try {
    if (subcommand === 'create') {
      const org = await backend.createOrg(name!);
      if (values.json) printJson(context.stdout, org);
      else {
        context.stderr.write(`created org "${org.name}" (on ${backend.where}); its id:\n`);
        context.stdout.write(`${org.id}\n`);
      }
    } else {
      const orgs = await backend.listOrgs();
      if (values.json) printJson(context.stdout, orgs);
      else printTable(context.stdout, ['NAME', 'ID', 'CREATED'], orgs.map((org) => [org.name, org.id, org.createdAt]), '(no orgs)');
    }
    return 0;
  } finally {
    await backend.close();
  }
}

export const orgsCommand: Command = { name: 'orgs', summary: 'manage organizations (create, list)', help: HELP, run };
