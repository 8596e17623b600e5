import { UsageError } from '../../config/index.js';
import { parseCommandArgs, parseMounts } from '../args.js';
import type { CliContext, Command } from '../context.js';
import { commandTarget } from '../remote.js';

const HELP = `Usage: veil run [options] -- <command> [args...]

Run a command with secrets it can use but never sees: each --secret ENV=name puts a placeholder
(veil_...) into ENV, and the command's HTTP(S) traffic goes through Veil's proxy, which swaps the
placeholder for the real value only on requests to the secret's allowed hosts. The sandbox is
registered for this run and deleted when the command ends (also on Ctrl-C).

Options:
  --secret ENV=name         mount secret "name" as env var ENV (repeatable)
  --sandbox-name NAME       name of the sandbox (default on Linux: veil-run-<machine>-<pid>-..., so
                            a later run can delete it if this one is killed; elsewhere its id)
  --data-dir DIR            local mode: VEIL_DATA_DIR (default ./.veil)
  --disallowed pass|block   local mode: what the proxy does with a placeholder for a host not on
                            its allowlist (VEIL_DISALLOWED; default pass = forward it unchanged)
  --api-url URL             remote mode: overrides VEIL_API_URL
  -h, --help                this help

Modes:
  local   (no API URL, or --data-dir given) opens the data dir in-process and serves a proxy for
          this sandbox alone on a free 127.0.0.1 port: no proxy credentials in the command's env.
  remote  (VEIL_API_URL + VEIL_API_KEY, no --data-dir) registers the sandbox on that control
          plane; the command's traffic goes to the proxy at VEIL_PROXY_URL through a local
          forwarder on 127.0.0.1 that adds the sandbox's credentials (none in the command's env),
          and the command trusts the CA in VEIL_CA_CERT_FILE (or <VEIL_CA_DIR>/ca.pem).

The command gets: the placeholders, HTTP_PROXY/HTTPS_PROXY (and lower-case), NO_PROXY for loopback,
SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, GIT_SSL_CAINFO, PIP_CERT, AWS_CA_BUNDLE,
DENO_CERT, CARGO_HTTP_CAINFO (system roots + Veil's CA), WGETRC (wget's CA file; ~/.wgetrc is not
read under Veil), NODE_EXTRA_CA_CERTS, NODE_OPTIONS with a
preload that routes Node's fetch through the proxy, and JAVA_TOOL_OPTIONS (truststore and proxy).
No VEIL_* variable of this shell reaches it.

Signals SIGTERM and SIGHUP are passed on to the command, and SIGINT too unless stdin is a terminal
(there Ctrl-C reaches the command directly; passing it on would deliver it twice). Veil waits for
the command to end, then deletes the sandbox. Exit status: the command's, or 128 + the signal
number when a signal ended it; 127 when the command is not found.
`;

const FLAGS = {
  secret: { type: 'string', multiple: true },
  'sandbox-name': { type: 'string' },
  'data-dir': { type: 'string' },
  disallowed: { type: 'string' },
  'api-url': { type: 'string' },
} as const;

/** Flags that take a value, to find where the command starts when there is no `--`. */
const VALUE_FLAGS = new Set(['--secret', '--sandbox-name', '--data-dir', '--disallowed', '--api-url']);

/** Splits `veil run` arguments into Veil's options and the command (after `--`, or from the first non-option). */
export function splitCommand(args: string[]): { options: string[]; command: string[] } {
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--') return { options: args.slice(0, index), command: args.slice(index + 1) };
    if (!arg.startsWith('-') || arg === '-') return { options: args.slice(0, index), command: args.slice(index) };
    if (VALUE_FLAGS.has(arg)) index++; // its value
  }
  return { options: args, command: [] };
}

async function run(args: string[], context: CliContext): Promise<number> {
  const split = splitCommand(args);
  const { values, positionals } = parseCommandArgs(split.options, FLAGS);
  if (values.help) {
    context.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])} before the command`);
  const [command, ...commandArgs] = split.command;
  if (command === undefined) throw new UsageError('veil run: give the command after --, e.g. veil run --secret OPENAI_API_KEY=openai -- python3 agent.py');
  const target = commandTarget(context.env, values);
  // Loaded lazily: the store, proxy and CA code only when a run happens.
  const { veilRun } = await import('../../runtime/run.js');
  return veilRun({
    mounts: parseMounts(values.secret),
    sandboxName: values['sandbox-name'],
    command,
    args: commandArgs,
    env: target.env,
    flags: values.disallowed !== undefined ? { disallowed: values.disallowed } : {},
    mode: target.mode,
    stderr: context.stderr,
  });
}

export const runCommand: Command = { name: 'run', summary: 'run a command with placeholders, proxy and trust settings', help: HELP, run };
