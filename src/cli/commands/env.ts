import { UsageError } from '../../config/index.js';
import { ENV_FORMATS, formatEnv, type EnvFormat } from '../../runtime/env-format.js';
import { expectPositionals, parseCommandArgs } from '../args.js';
import type { CliContext, Command } from '../context.js';
import { commandTarget } from '../remote.js';

/** Stands in for an unknown proxy token (same text as runtime/sandbox-env.ts). */
const PROXY_TOKEN_MARKER = '<PROXY_TOKEN>';

const HELP = `Usage: veil env --sandbox ID [options]

Print the environment \`veil run\` would give a process of an existing sandbox: its placeholders,
proxy settings (HTTP_PROXY, HTTPS_PROXY, lower-case twins, NO_PROXY), trust settings (bundle
variables, NODE_EXTRA_CA_CERTS, JAVA_TOOL_OPTIONS) and NODE_OPTIONS with the fetch preload.
The trust files are written to --trust-dir. Example:

  eval "$(VEIL_PROXY_TOKEN=... veil env --sandbox my-agent)"

Options:
  --sandbox ID              the sandbox (id, or name in local mode)
  --format shell|dotenv|json  output format (default shell: export NAME='value')
  --proxy-url URL           the proxy the process should use (VEIL_PROXY_URL; local mode default:
                            VEIL_PROXY_LISTEN of \`veil serve\`, http://127.0.0.1:3128)
  --proxy-token TOKEN       the sandbox's proxy token (prefer VEIL_PROXY_TOKEN: argv is visible
                            to other users). It is shown only when the sandbox is created; without
                            it the proxy URL holds ${PROXY_TOKEN_MARKER} for you to replace.
  --sidecar                 the proxy runs in sidecar mode for this sandbox: no credentials
  --trust-dir DIR           where to write the CA file, bundle and Java truststore
                            (default <data-dir>/trust)
  --data-dir DIR            local mode: VEIL_DATA_DIR (default ./.veil)
  --api-url URL             remote mode: overrides VEIL_API_URL
  -h, --help                this help
`;

const FLAGS = {
  sandbox: { type: 'string' },
  format: { type: 'string' },
  'proxy-url': { type: 'string' },
  'proxy-token': { type: 'string' },
  sidecar: { type: 'boolean' },
  'trust-dir': { type: 'string' },
  'data-dir': { type: 'string' },
  'api-url': { type: 'string' },
} as const;

async function run(args: string[], context: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, FLAGS);
  if (values.help) {
    context.stdout.write(HELP);
    return 0;
  }
  expectPositionals(positionals, []);
  if (!values.sandbox) throw new UsageError('veil env: give --sandbox ID');
  const format = (values.format ?? 'shell') as EnvFormat;
  if (!(ENV_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format: expected one of ${ENV_FORMATS.join('|')}, got ${JSON.stringify(values.format)}`);
  }
  const target = commandTarget(context.env, values);
  const { sandboxEnv } = await import('../../runtime/sandbox-env.js');
  const result = await sandboxEnv({
    sandbox: values.sandbox,
    env: target.env,
    mode: target.mode,
    proxyUrl: values['proxy-url'],
    proxyToken: values['proxy-token'],
    sidecar: values.sidecar,
    trustDir: values['trust-dir'],
  });
  context.stdout.write(formatEnv(result.vars, values.json ? 'json' : format));
  if (result.tokenMissing) {
    context.stderr.write(
      `veil: the proxy token of sandbox ${result.sandboxId} is not known here (it is shown once, when the sandbox is created): ` +
        `replace ${PROXY_TOKEN_MARKER} in the proxy URLs, or run again with VEIL_PROXY_TOKEN set\n`,
    );
  }
  return 0;
}

export const envCommand: Command = { name: 'env', summary: "print a sandbox's env (placeholders, proxy, trust) for shell, dotenv or JSON", help: HELP, run };
