// node:https with the global agent (no agent option): what node-fetch v2 and many SDKs do.
import https from 'node:https';

const [url, envName] = process.argv.slice(2);
const value = process.env[envName] ?? '';
console.log(`client-saw ${envName}=${value}`);
const res = await new Promise((resolve, reject) => {
  const req = https.get(url, { headers: { authorization: `Bearer ${value}` }, timeout: 20_000 }, resolve);
  req.on('timeout', () => req.destroy(new Error('timed out')));
  req.on('error', reject);
});
let body = '';
res.setEncoding('utf8');
for await (const chunk of res) body += chunk;
console.log(`status ${res.statusCode}`);
console.log(`body ${body.split('\n')[0]}`);
