import { loadProxyConfig, PROXY_FLAGS, type ProxyFlags } from '../../config/proxy-config.js';
import { expectPositionals, parseCommandArgs } from '../args.js';
import type { CliContext, Command } from '../context.js';
import { runUntilSignal } from '../run-until-signal.js';

const HELP = `Usage: veil proxy --control-plane URL --api-key KEY [options]

Run the egress proxy alone, resolving secrets from a Veil control plane over HTTPS
(GET /sandbox/{id}/secrets with a proxy:resolve key) and following its change stream
(GET /events) so rotations and deletions apply to the next request. Prints one JSON log line
with "msg":"ready" (and proxyUrl) on stdout when listening. SIGTERM/SIGINT drain and exit 0.

Options (flags win over the environment):
  --control-plane URL             VEIL_API_URL        control plane base URL: https://..., or
                                                      http:// to a loopback address only
  --api-key KEY                   VEIL_API_KEY        key with the proxy:resolve scope (a key
                                                      created with a sandbox id serves only it)
  --control-plane-ca FILE         VEIL_CONTROL_PLANE_CA_FILE
                                                      extra CA (PEM) for the control plane's TLS
  --sandbox ID                    VEIL_SANDBOX_ID     sidecar mode: one sandbox, no proxy credentials
  --proxy-listen HOST:PORT        VEIL_PROXY_LISTEN   proxy address (default 127.0.0.1:3128; port 0 = any)
  --disallowed pass|block         VEIL_DISALLOWED     placeholder for a host not on the allowlist
  --non-tls-connect tunnel|deny  VEIL_NON_TLS_CONNECT
                                                      CONNECT that is not TLS: relay raw (default) or refuse
  --allow-unrestricted-secrets    VEIL_ALLOW_UNRESTRICTED_SECRETS=1
  -h, --help                                          this help

Environment only: VEIL_CA_DIR, VEIL_CA_CERT_FILE, VEIL_CA_KEY_FILE, VEIL_UPSTREAM_CA_FILE,
VEIL_RESOLVE, VEIL_LOG_LEVEL, VEIL_PROXY_CACHE_TTL_MS (default 5000),
VEIL_PROXY_CACHE_STALE_MS (default 60000: how long past expiry a copy is served while the
control plane is unreachable; after that requests fail with 503).
`;

/** How long start-up waits for the change stream before going ready without it (it keeps retrying). */
const FIRST_STREAM_WAIT_MS = 5_000;

async function run(args: string[], context: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, PROXY_FLAGS);
  if (values.help) {
    context.stdout.write(HELP);
    return 0;
  }
  expectPositionals(positionals, []);
  const { json: _json, help: _help, ...flags } = values;
  const config = loadProxyConfig(flags as ProxyFlags, context.env);
  const { startRemoteProxy } = await import('../../app/remote-proxy.js');
  const proxy = await startRemoteProxy(config, { firstStreamWaitMs: FIRST_STREAM_WAIT_MS });

  return runUntilSignal(proxy);
}

export const proxyCommand: Command = {
  name: 'proxy',
  summary: 'run the egress proxy alone against a remote control plane',
  help: HELP,
  run,
};
