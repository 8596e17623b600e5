// The undici package (its own copy, not Node's bundled one): request() uses the global dispatcher.
import { request } from 'undici';

const [url, envName] = process.argv.slice(2);
const value = process.env[envName] ?? '';
console.log(`client-saw ${envName}=${value}`);
const res = await request(url, { headers: { authorization: `Bearer ${value}` }, headersTimeout: 20_000, bodyTimeout: 20_000 });
console.log(`status ${res.statusCode}`);
console.log(`body ${(await res.body.text()).split('\n')[0]}`);
