import { caInit, caPath, caShow } from '../../ca/index.js';
import { loadConfig, UsageError } from '../../config/index.js';
import { expectPositionals, parseCommandArgs, splitSubcommand, showSubcommandHelp } from '../args.js';
import type { CliContext, Command } from '../context.js';

const HELP = `Usage: veil ca <subcommand>

Veil's certificate authority, which signs the per-host certificates of the TLS-intercepting proxy.
Clients in a sandbox must trust it (\`veil run\` and \`veil env\` set that up).

Subcommands:
  init    create the CA if it does not exist yet; print its files and fingerprint
  show    print the CA certificate: subject, fingerprint, validity and PEM
  path    print the absolute path of the CA certificate only (for scripts:
          curl --cacert "$(veil ca path)" ...)

Where it lives: VEIL_CA_DIR (default ./certs: ca.pem, and ca-key.pem with mode 0600), or
VEIL_CA_CERT_FILE + VEIL_CA_KEY_FILE for a CA you provide (never overwritten).

Options:
  -h, --help   this help
`;

async function run(args: string[], context: CliContext): Promise<number> {
  const [subcommand, rest] = splitSubcommand(args);
  const { values, positionals } = parseCommandArgs(rest, {});
  if (values.help || subcommand === undefined || subcommand === 'help') return showSubcommandHelp(values.help === true || subcommand === 'help', HELP, context);
  expectPositionals(positionals, []);
  const location = loadConfig({}, context.env).ca;
  switch (subcommand) {
    case 'init':
      context.stdout.write(await caInit(location));
      return 0;
    case 'show':
      context.stdout.write(await caShow(location));
      return 0;
    case 'path':
      context.stdout.write(`${await caPath(location)}\n`);
      return 0;
    default:
      throw new UsageError(`unknown subcommand "ca ${subcommand}" (try: veil ca --help)`);
  }
}

export const caCommand: Command = { name: 'ca', summary: "manage Veil's CA (init, show, path)", help: HELP, run };
