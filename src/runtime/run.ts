/**
 * `veil run`: register a sandbox with the given mounts, run a command with placeholders, proxy and
 * trust settings in its env, and delete the sandbox when it ends.
 *
 * Two modes, decided by the caller with adminMode (src/config/mode.ts) and followed here as given:
 * - remote (an API URL + VEIL_API_KEY): POST /sandbox on that control plane; the child's traffic
 *   goes to the shared proxy at VEIL_PROXY_URL (or a `proxyUrl` in the create reply) with the
 *   sandbox's credentials `sandboxId:proxyToken`, added by a local forwarder on 127.0.0.1
 *   (credential-forwarder.ts): the child's proxy URL holds no token, and Java works too.
 * - local (no API URL, or --data-dir): the data dir opened in-process and a sidecar proxy for this
 *   one sandbox on a free 127.0.0.1 port, so the child's proxy URL carries no credentials at all.
 *
 * A run killed outright (SIGKILL) cannot delete its sandbox: the next run on the same machine does
 * (run-leftovers.ts; the default sandbox name records the owning process).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SandboxService, toMountList } from '../client/sandboxes.js';
import type { ClientOptions } from '../client/http.js';
import { loadConfig, UsageError, type AdminMode, type ConfigFlags, type Env } from '../config/index.js';
import type { Logger } from '../log/logger.js';
import { buildChildEnv, invalidMountEnvName } from './child-env.js';
import { parseProxyUrl, type ProxyEndpoint } from '../sandbox-env/proxy-endpoint.js';
import { caFromFile, caFromPem, writeChildTrust } from './child-trust.js';
import { startCredentialForwarder, type Forwarder } from './credential-forwarder.js';
import { RELAYED_SIGNALS, exitCodeForSignal, runChild } from './child-process.js';
import { openLocalVeil, requireLocalData, stderrLogger } from './local.js';
import { nodePreloadPath } from './preload-path.js';
import { deleteLeftoverRunSandboxes, runSandboxName } from './run-leftovers.js';
import { startSidecarProxy } from './sidecar.js';
import { loadOrCreateCertificateAuthority } from '../ca/index.js';

/** What the create reply of a control plane may add beyond Daytona's shape (proposed extension). */
interface CreateReplyExtras {
  proxyUrl?: string;
  caCertPem?: string;
}

/** A sandbox registered for one run, with everything the child's env needs. */
export interface RunSandbox {
  id: string;
  /** `ENV -> placeholder`. */
  placeholders: Record<string, string>;
  proxy: ProxyEndpoint;
  ca: { certPem: string; fingerprint: string };
  trustDir: string;
  /** Deletes the sandbox and releases what the run opened. Never throws; reports on stderr. */
  release(): Promise<void>;
}

export interface RunOptions {
  mounts: Record<string, string>;
  sandboxName?: string | undefined;
  command: string;
  args: string[];
  /** The parent environment (Veil's settings are read from it; the child inherits the rest). */
  env: Env;
  /** Where the run acts, as adminMode decided it: the remote control plane, or the local data dir. */
  mode: AdminMode;
  /** Settings of local mode's store and sidecar proxy (`--disallowed`); the data dir comes from `mode`. */
  flags?: ConfigFlags;
  stderr?: NodeJS.WritableStream;
}

/** The proxy's CA certificate for a remote control plane: reply, VEIL_CA_CERT_FILE, or the CA dir. */
function remoteCa(reply: CreateReplyExtras, env: Env): { certPem: string; fingerprint: string } {
  if (reply.caCertPem) return caFromPem(reply.caCertPem, 'the control plane reply (caCertPem)');
  return caFromFile(env);
}

function remoteProxyEndpoint(reply: CreateReplyExtras, env: Env, sandboxId: string, proxyToken: string | undefined): ProxyEndpoint {
  const text = env.VEIL_PROXY_URL || reply.proxyUrl;
  if (!text) throw new UsageError('set VEIL_PROXY_URL to the Veil proxy (e.g. http://veil-proxy:3128) when using a remote control plane');
  let endpoint: ProxyEndpoint;
  try {
    endpoint = parseProxyUrl(text);
  } catch (error) {
    throw new UsageError(`VEIL_PROXY_URL: ${(error as Error).message}`);
  }
  if (!proxyToken) throw new Error('the control plane did not return a proxy token for the new sandbox');
  return { host: endpoint.host, port: endpoint.port, credentials: { username: sandboxId, password: proxyToken } };
}

/** `--sandbox-name`, else a name recording this process (run-leftovers.ts), else none (the id). */
function sandboxNameFor(options: RunOptions): { name?: string } {
  const name = options.sandboxName || runSandboxName();
  return name ? { name } : {};
}

async function createRemoteSandbox(options: RunOptions, client: ClientOptions, stderr: NodeJS.WritableStream): Promise<RunSandbox> {
  const service = new SandboxService(client);
  await deleteLeftoverRunSandboxes(service, stderr);
  const created = await service.create({ ...sandboxNameFor(options), secrets: options.mounts });
  let forwarder: Forwarder | undefined;
  const release = async () => {
    await forwarder?.close();
    await service.delete(created.id).catch((error: unknown) => {
      stderr.write(`veil: could not delete sandbox ${created.id}: ${(error as Error).message}\n`);
    });
  };
  let trustDir: string | undefined;
  try {
    const extras = created as unknown as CreateReplyExtras;
    const shared = remoteProxyEndpoint(extras, options.env, created.id, created.proxyToken);
    const ca = remoteCa(extras, options.env);
    forwarder = await startCredentialForwarder(shared, shared.credentials!);
    const proxy: ProxyEndpoint = { host: forwarder.host, port: forwarder.port };
    // Per run and private: a shared, predictable directory could be pre-seeded with a hostile bundle.
    trustDir = await mkdtemp(join(tmpdir(), 'veil-run-'));
    const dir = trustDir;
    return {
      id: created.id,
      placeholders: created.env ?? {},
      proxy,
      ca,
      trustDir: dir,
      release: async () => {
        await release();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await release();
    if (trustDir) await rm(trustDir, { recursive: true, force: true });
    throw error;
  }
}

async function createLocalSandbox(
  options: RunOptions,
  mode: Extract<AdminMode, { kind: 'local' }>,
  logger: Logger,
  stderr: NodeJS.WritableStream,
): Promise<RunSandbox> {
  const config = loadConfig({ ...options.flags, 'data-dir': mode.dataDir }, options.env);
  requireLocalData(config, 'create a secret first (veil secrets create NAME --host HOST), pass --data-dir, or set VEIL_API_URL and VEIL_API_KEY');
  const local = await openLocalVeil(config, logger);
  const steps: Array<() => Promise<void>> = [() => local.close()];
  const release = async () => {
    for (const step of steps.splice(0).reverse()) {
      await step().catch((error: unknown) => stderr.write(`veil: cleanup: ${(error as Error).message}\n`));
    }
  };
  try {
    const ca = await loadOrCreateCertificateAuthority(config.ca, { logger });
    const sandboxes = local.plane.services.sandboxes;
    await deleteLeftoverRunSandboxes({ list: () => sandboxes.list(local.orgId), delete: (id) => sandboxes.delete(local.orgId, id) }, stderr);
    const created = await sandboxes.create(local.orgId, { ...sandboxNameFor(options), secrets: toMountList(options.mounts) });
    steps.push(() => local.plane.services.sandboxes.delete(local.orgId, created.id));
    const sidecar = await startSidecarProxy({ local, config, ca, sandboxId: created.id, logger });
    steps.push(() => sidecar.close());
    return {
      id: created.id,
      placeholders: created.env,
      proxy: { host: sidecar.host, port: sidecar.port },
      ca: { certPem: ca.certPem, fingerprint: ca.fingerprint },
      // Content-addressed files in the private data dir: reused across runs.
      trustDir: join(resolve(config.dataDir), 'trust'),
      release,
    };
  } catch (error) {
    await release();
    throw error;
  }
}

function validateMounts(mounts: Record<string, string>): void {
  for (const name of Object.keys(mounts)) {
    const problem = invalidMountEnvName(name);
    if (problem) throw new UsageError(`--secret: ${problem}`);
  }
}

/** Runs the command under Veil and returns the exit code for `veil run` (the child's, or 128+signal). */
export async function veilRun(options: RunOptions): Promise<number> {
  const stderr = options.stderr ?? process.stderr;
  validateMounts(options.mounts);
  const mode = options.mode;

  // Until the child runs (and again while cleaning up), a signal must not kill Veil half-way: note
  // it, finish the step, clean up, and exit as if the child had been killed by it.
  let interrupted: NodeJS.Signals | undefined;
  let childRunning = false;
  const guards = RELAYED_SIGNALS.map((signal) => {
    const guard = () => {
      if (!childRunning) interrupted ??= signal;
    };
    process.on(signal, guard);
    return () => process.removeListener(signal, guard);
  });

  let sandbox: RunSandbox | undefined;
  try {
    if (mode.kind === 'remote') {
      const apiKey = options.env.VEIL_API_KEY;
      if (!apiKey) throw new UsageError('VEIL_API_URL is set but VEIL_API_KEY is not: set both (remote mode) or neither (local mode)');
      sandbox = await createRemoteSandbox(options, { apiUrl: mode.apiUrl, apiKey }, stderr);
    } else {
      sandbox = await createLocalSandbox(options, mode, stderrLogger(options.env.VEIL_LOG_LEVEL || undefined), stderr);
    }
    if (interrupted) return exitCodeForSignal(interrupted);

    const { trust, wgetrc } = await writeChildTrust(sandbox.ca, sandbox.trustDir);
    const env = buildChildEnv(options.env, {
      placeholders: sandbox.placeholders,
      proxy: sandbox.proxy,
      trust,
      nodePreload: nodePreloadPath(),
      wgetrc,
    });
    if (interrupted) return exitCodeForSignal(interrupted);

    childRunning = true;
    const exit = await runChild({ command: options.command, args: options.args, env }, stderr);
    childRunning = false;
    return exit.exitCode;
  } finally {
    childRunning = false;
    if (sandbox) await sandbox.release();
    for (const remove of guards) remove();
  }
}
