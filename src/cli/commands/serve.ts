import { CONFIG_FLAGS, loadConfig, type ConfigFlags } from '../../config/index.js';
import { expectPositionals, parseCommandArgs } from '../args.js';
import type { CliContext, Command } from '../context.js';
import { runUntilSignal } from '../run-until-signal.js';

const HELP = `Usage: veil serve [options]

Run the control-plane API and the egress proxy. Prints one JSON log line with "msg":"ready"
(and apiUrl, proxyUrl) on stdout when listening. SIGTERM/SIGINT drain in-flight requests and exit 0.

Options (flags win over the environment):
  --data-dir DIR                  VEIL_DATA_DIR       database, master key, admin key (default ./.veil)
  --api-listen HOST:PORT          VEIL_API_LISTEN     API address (default 127.0.0.1:8080; port 0 = any)
  --proxy-listen HOST:PORT        VEIL_PROXY_LISTEN   proxy address (default 127.0.0.1:3128; port 0 = any)
  --no-proxy                                          serve the API only
  --disallowed pass|block         VEIL_DISALLOWED     placeholder for a host not on the allowlist:
                                                      forward unchanged (pass, default) or refuse (block)
  --non-tls-connect tunnel|deny   VEIL_NON_TLS_CONNECT
                                                      CONNECT that is not TLS: relay raw without
                                                      substitution (tunnel, default) or refuse (deny)
  --allow-unrestricted-secrets    VEIL_ALLOW_UNRESTRICTED_SECRETS=1
                                                      substitute secrets without hosts everywhere
  --sandbox ID                    VEIL_SANDBOX_ID     sidecar mode: one sandbox, no proxy credentials
  -h, --help                                          this help

Environment only: VEIL_MASTER_KEY, VEIL_ADMIN_API_KEY, VEIL_CA_DIR, VEIL_CA_CERT_FILE,
VEIL_CA_KEY_FILE, VEIL_UPSTREAM_CA_FILE, VEIL_RESOLVE, VEIL_DATABASE_URL, VEIL_LOG_LEVEL
(see README.md).
`;


async function run(args: string[], context: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, CONFIG_FLAGS);
  if (values.help) {
    context.stdout.write(HELP);
    return 0;
  }
  expectPositionals(positionals, []);
  const { json: _json, help: _help, ...flags } = values;
  const config = loadConfig(flags as ConfigFlags, context.env);
  // Loaded here, not at the top: client commands should not pay for fastify, SQLite and the proxy.
  const { startVeil } = await import('../../app/start.js');
  const veil = await startVeil(config, {
    beforeReady: (started) => {
      if (!started.adminApiKey) return;
      context.stderr.write(
        `\nGenerated the admin API key (shown once; also saved to ${started.adminApiKeyFile ?? 'the data directory'}, mode 0600):\n  ${started.adminApiKey}\n` +
          `Use it with: export VEIL_API_URL=${started.apiUrl} VEIL_API_KEY=$(cat ${started.adminApiKeyFile ?? '<data-dir>/admin-api-key'})\n\n`,
      );
    },
  });

  return runUntilSignal(veil);
}

export const serveCommand: Command = { name: 'serve', summary: 'run the control plane API and the egress proxy', help: HELP, run };
