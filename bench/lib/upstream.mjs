// Small Node upstream for --smoke (no nginx needed): HTTP and HTTPS on 127.0.0.1, port 0.
// GET -> "ok", POST -> reads the whole body, then "ok". /verify appends "authorization|body" to the verify log.
// Usage: node upstream.mjs CERT KEY VERIFY_LOG ; prints {"http":port,"https":port} on stdout.
import http from 'node:http';
import https from 'node:https';
import { appendFileSync, readFileSync } from 'node:fs';

const [certFile, keyFile, verifyLog] = process.argv.slice(2);

function handler(req, res) {
  req.socket.setNoDelay(true);
  const chunks = [];
  const keep = req.url === '/verify';
  req.on('data', (d) => {
    if (keep) chunks.push(d);
  });
  req.on('end', () => {
    if (keep) appendFileSync(verifyLog, `${req.headers.authorization ?? ''}|${Buffer.concat(chunks).toString('utf8')}\n`);
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': keep ? 7 : 3 });
    res.end(keep ? 'logged\n' : 'ok\n');
  });
}

const opts = { keepAliveTimeout: 120_000, headersTimeout: 0, requestTimeout: 0 };
const h1 = http.createServer(opts, handler);
const h2 = https.createServer({ ...opts, cert: readFileSync(certFile), key: readFileSync(keyFile) }, handler);
await new Promise((r) => h1.listen(0, '127.0.0.1', r));
await new Promise((r) => h2.listen(0, '127.0.0.1', r));
process.stdout.write(JSON.stringify({ http: h1.address().port, https: h2.address().port }) + '\n');
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
