// Node's built-in fetch: no proxy or CA configured here, only what the environment provides.
const [url, envName] = process.argv.slice(2);
const value = process.env[envName] ?? '';
console.log(`client-saw ${envName}=${value}`);
const res = await fetch(url, { headers: { authorization: `Bearer ${value}` }, signal: AbortSignal.timeout(20_000) });
console.log(`status ${res.status}`);
console.log(`body ${(await res.text()).split('\n')[0]}`);
