// Starting and stopping what the bench measures: the upstream (nginx, or a small Node server for --smoke),
// Veil, mitmdump, squid. Everything listens on 127.0.0.1 only; every process is ours and is stopped by pid.
import { spawn, execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, chownSync } from 'node:fs';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { join } from 'node:path';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

export async function waitForPort(port, timeoutMs = 15_000, proc = null) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) throw new Error(`process exited (${proc.exitCode}) before listening on ${port}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/** Spawns cmd with a raised fd limit; stdout/stderr go to logFile. The returned pid is the program's own. */
function spawnLogged(cmd, args, { logFile, env, cwd, stdoutLines } = {}) {
  const quoted = [cmd, ...args].map((a) => `'${String(a).replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('bash', ['-c', `ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${quoted}`], {
    env: { ...process.env, ...env },
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = logFile ? createWriteStream(logFile) : null;
  if (stdoutLines) {
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      log?.write(line + '\n');
      stdoutLines(line);
    });
  } else if (log) child.stdout.pipe(log, { end: false });
  else child.stdout.resume();
  if (log) child.stderr.pipe(log, { end: false });
  else child.stderr.resume();
  child.on('exit', () => log?.end());
  return child;
}

export async function stopProcess(child, graceMs = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const t = setTimeout(() => {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {}
  }, graceMs);
  await exited;
  clearTimeout(t);
}

function fill(template, vars) {
  let s = template;
  for (const [k, v] of Object.entries(vars)) s = s.split(`@${k}@`).join(String(v));
  return s;
}

// ---------------------------------------------------------------- upstreams
export async function startNodeUpstream(work, certs) {
  const verifyLog = join(work, 'verify.log');
  writeFileSync(verifyLog, '');
  let resolveReady;
  const ready = new Promise((r) => (resolveReady = r));
  const child = spawnLogged(process.execPath, [new URL('./upstream.mjs', import.meta.url).pathname, certs.upstreamCert, certs.upstreamKey, verifyLog], {
    logFile: join(work, 'upstream.log'),
    stdoutLines: (line) => {
      try {
        resolveReady(JSON.parse(line));
      } catch {}
    },
  });
  const ports = await Promise.race([ready, sleep(10_000).then(() => null)]);
  if (!ports) throw new Error('node upstream did not start');
  return { kind: 'node', child, httpPort: ports.http, httpsPort: ports.https, verifyLog, pid: child.pid };
}

export async function startNginx(work, certs, peersDir) {
  const D = work;
  for (const d of ['nginx/tmp/body', 'nginx/tmp/proxy', 'nginx/tmp/fcgi', 'nginx/tmp/uwsgi', 'nginx/tmp/scgi']) mkdirSync(join(D, d), { recursive: true });
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const conf = join(D, 'nginx/nginx.conf');
  writeFileSync(conf, fill(readFileSync(join(peersDir, 'nginx.conf.in'), 'utf8'), { D, HTTP: httpPort, HTTPS: httpsPort }));
  const verifyLog = join(D, 'nginx/verify.log');
  writeFileSync(verifyLog, '');
  const child = spawnLogged('nginx', ['-c', conf, '-p', join(D, 'nginx')], { logFile: join(D, 'nginx/stdout.log') });
  await waitForPort(httpPort, 10_000, child);
  await waitForPort(httpsPort, 10_000, child);
  return { kind: 'nginx', child, httpPort, httpsPort, verifyLog, pid: child.pid };
}

// ---------------------------------------------------------------- peers
export async function startSquid(work, certs, peersDir, upstream, names) {
  const D = work;
  const sq = join(D, 'squid');
  mkdirSync(sq, { recursive: true });
  writeFileSync(join(sq, 'hosts'), ['bench.local', ...names].map((n) => `127.0.0.1 ${n}`).join('\n') + '\n');
  const ssldb = join(sq, 'ssl_db');
  if (!existsSync(ssldb)) execFileSync('/usr/lib/squid/security_file_certgen', ['-c', '-s', ssldb, '-M', '8MB'], { stdio: 'ignore' });
  const plain = await freePort();
  const bump = await freePort();
  const conf = join(sq, 'squid.conf');
  writeFileSync(conf, fill(readFileSync(join(peersDir, 'squid.conf.in'), 'utf8'), { D, PLAIN: plain, BUMP: bump, HTTP: upstream.httpPort, HTTPS: upstream.httpsPort }));
  // squid drops to user proxy: it must read the bump CA bundle and write its own folder
  execFileSync('chown', ['-R', 'proxy:proxy', sq]);
  chownSync(certs.squidBundle, 0, Number(execFileSync('id', ['-g', 'proxy']).toString().trim()));
  execFileSync('chmod', ['640', certs.squidBundle]);
  const child = spawnLogged('squid', ['-N', '-f', conf], { logFile: join(sq, 'stdout.log') });
  await waitForPort(plain, 20_000, child);
  await waitForPort(bump, 20_000, child);
  return { child, pid: child.pid, plainPort: plain, bumpPort: bump, ca: certs.squidCaCert };
}

export async function startMitm(work, certs, peersDir, { placeholder, secret }) {
  const confdir = join(work, 'mitm');
  mkdirSync(confdir, { recursive: true });
  const port = await freePort();
  const child = spawnLogged(
    'mitmdump',
    ['-q', '--listen-host', '127.0.0.1', '-p', port, '--set', `confdir=${confdir}`, '--set', `ssl_verify_upstream_trusted_ca=${certs.caCert}`, '-s', join(peersDir, 'mitm_subst.py')],
    {
      logFile: join(confdir, 'stdout.log'),
      env: { BENCH_PLACEHOLDER: placeholder, BENCH_SECRET: secret, BENCH_ALLOWED_HOSTS: 'bench.local', BENCH_PIN_SUFFIX: 'bench.local', BENCH_PIN_IP: '127.0.0.1' },
    },
  );
  await waitForPort(port, 30_000, child);
  const ca = join(confdir, 'mitmproxy-ca-cert.pem');
  for (let i = 0; i < 100 && !existsSync(ca); i++) await sleep(100);
  if (!existsSync(ca)) throw new Error('mitmproxy did not write its CA');
  return { child, pid: child.pid, port, ca };
}

// ---------------------------------------------------------------- Veil
/**
 * Starts `veil serve` as the public contract says. Resolves to {ok:false, note} when the proxy is not there yet
 * (no dist/, no proxyUrl in the ready line, or it did not start), so the caller can skip Veil.
 */
export async function startVeil(repoRoot, work, certs, resolveNames, mainFile = null, { quiet = false, name = quiet ? 'veil-quiet' : 'veil', nodeArgs = [] } = {}) {
  const main = mainFile ?? join(repoRoot, 'dist/cli/main.js');
  if (!existsSync(main)) return { ok: false, note: `${main} missing (run \`npm run build\`; the proxy may not have landed yet)` };
  const dataDir = join(work, `veil-${process.pid}-${Date.now()}`);
  mkdirSync(dataDir, { recursive: true });
  const caDir = join(dataDir, 'certs');
  let resolveReady;
  const ready = new Promise((r) => (resolveReady = r));
  // quiet: VEIL_LOG_LEVEL=warn (no per-request "proxied" line, like the peers' access logs off). The ready line is
  // logged at info then, so the ports are picked here and readiness is "both listen + admin key written".
  const apiPort = quiet ? await freePort() : 0;
  const proxyPort = quiet ? await freePort() : 0;
  const child = spawnLogged(
    process.execPath,
    [...(process.env.VEIL_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), ...nodeArgs, main, 'serve', '--data-dir', dataDir, '--api-listen', `127.0.0.1:${apiPort}`, '--proxy-listen', `127.0.0.1:${proxyPort}`],
    {
      cwd: repoRoot,
      logFile: join(work, `${name}.log`),
      env: {
        ...(quiet ? { VEIL_LOG_LEVEL: 'warn' } : {}),
        VEIL_CA_DIR: caDir,
        VEIL_UPSTREAM_CA_FILE: certs.caCert,
        VEIL_RESOLVE: ['bench.local', ...resolveNames].map((n) => `${n}=127.0.0.1`).join(','),
      },
      stdoutLines: (line) => {
        if (!line.includes('"ready"')) return;
        try {
          const j = JSON.parse(line);
          if (j.msg === 'ready') resolveReady(j);
        } catch {}
      },
    },
  );
  const exited = new Promise((r) => child.once('exit', (code) => r({ exited: code })));
  if (quiet) {
    const up = (async () => {
      await waitForPort(apiPort, 30_000, child);
      await waitForPort(proxyPort, 30_000, child);
      for (let i = 0; i < 100 && !existsSync(join(dataDir, 'admin-api-key')); i++) await sleep(100);
      resolveReady({ msg: 'ready', apiUrl: `http://127.0.0.1:${apiPort}`, proxyUrl: `http://127.0.0.1:${proxyPort}` });
    })();
    up.catch(() => {});
  }
  const r = await Promise.race([ready, exited, sleep(30_000).then(() => ({ timeout: true }))]);
  if (r.exited !== undefined || r.timeout) {
    await stopProcess(child);
    return { ok: false, note: r.timeout ? 'veil serve printed no "ready" line within 30 s' : `veil serve exited (${r.exited}) before "ready" (see bench/.work/veil.log)` };
  }
  if (!r.proxyUrl) {
    await stopProcess(child);
    return { ok: false, note: 'the "ready" line has no proxyUrl (the proxy has not landed yet)' };
  }
  const adminKey = readFileSync(join(dataDir, 'admin-api-key'), 'utf8').trim();
  const proxy = new URL(r.proxyUrl);
  const ca = r.caCertFile ?? r.caFile ?? r.caCert ?? findCaCert(caDir);
  if (!ca) {
    await stopProcess(child);
    return { ok: false, note: `no CA certificate found in ${caDir}` };
  }
  return {
    ok: true,
    child,
    pid: child.pid,
    apiUrl: r.apiUrl.replace(/\/$/, ''),
    proxyHost: proxy.hostname,
    proxyPort: Number(proxy.port),
    adminKey,
    ca,
    dataDir,
  };
}

function findCaCert(dir) {
  if (!existsSync(dir)) return null;
  const pems = readdirSync(dir)
    .filter((f) => /\.(pem|crt)$/.test(f))
    .map((f) => join(dir, f))
    .filter((f) => {
      const t = readFileSync(f, 'utf8');
      return t.includes('BEGIN CERTIFICATE') && !t.includes('PRIVATE KEY');
    });
  pems.sort((a, b) => Number(/ca/i.test(b)) - Number(/ca/i.test(a)));
  return pems[0] ?? null;
}

async function api(veil, method, path, body) {
  const res = await fetch(`${veil.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${veil.adminKey}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : null;
}

/** Creates a secret (allowed for bench.local in header, url and body). */
export async function veilSecret(veil, name, value) {
  return api(veil, 'POST', '/secret', { name, value, hosts: ['bench.local'], locations: ['header', 'url', 'body'] });
}

/** Creates a sandbox mounting the secret as API_KEY: {id, proxyToken, placeholder, auth}. */
export async function veilSandbox(veil, secretName) {
  const sb = await api(veil, 'POST', '/sandbox', { secrets: [{ API_KEY: secretName }] });
  const placeholder = sb.env?.API_KEY;
  if (!sb.id || !sb.proxyToken || !placeholder) throw new Error(`unexpected sandbox reply: ${JSON.stringify(Object.keys(sb))}`);
  return { id: sb.id, proxyToken: sb.proxyToken, placeholder, auth: `Basic ${Buffer.from(`${sb.id}:${sb.proxyToken}`).toString('base64')}` };
}
