// The `ws` package: it opens its TLS connection itself (`createConnection: tls.connect`), never
// through an agent. The upstream answers the upgrade with a plain 200, which ws reports as an
// unexpected response: enough to see what the handshake carried.
import WebSocket from 'ws';

const [url, envName] = process.argv.slice(2);
const value = process.env[envName] ?? '';
console.log(`client-saw ${envName}=${value}`);
const ws = new WebSocket(url.replace(/^https:/, 'wss:'), { headers: { authorization: `Bearer ${value}` }, handshakeTimeout: 20_000 });
const res = await new Promise((resolve, reject) => {
  ws.on('unexpected-response', (_req, response) => resolve(response));
  ws.on('open', () => reject(new Error('upgraded unexpectedly')));
  ws.on('error', reject);
});
let body = '';
res.setEncoding('utf8');
for await (const chunk of res) body += chunk;
console.log(`status ${res.statusCode}`);
console.log(`body ${body.split('\n')[0]}`);
