// node:https with an agent of its own, as AWS SDK v3's NodeHttpHandler, stripe and got construct:
// the preload's global-agent swap never sees it; only the tls.connect wrapper can.
import https from 'node:https';

const [url, envName] = process.argv.slice(2);
const value = process.env[envName] ?? '';
console.log(`client-saw ${envName}=${value}`);
const agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
const res = await new Promise((resolve, reject) => {
  const req = https.request(url, { agent, headers: { authorization: `Bearer ${value}` }, timeout: 20_000 }, resolve);
  req.on('timeout', () => req.destroy(new Error('timed out')));
  req.on('error', reject);
  req.end();
});
let body = '';
res.setEncoding('utf8');
for await (const chunk of res) body += chunk;
console.log(`status ${res.statusCode}`);
console.log(`body ${body.split('\n')[0]}`);
agent.destroy();
