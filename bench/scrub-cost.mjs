// CPU per response of response scrubbing alone (src/substitution), for A/B runs of two builds in one
// process, interleaved: the end-to-end bench's GET answers `ok`, which says little about bodies.
//
//   node bench/scrub-cost.mjs --variant before=/tmp/before/dist --variant after=dist [--reps 7] [--ms 300] [--value V]
//
// --value replaces the secret's value (e.g. one starting with `/` or `\`, whose JSON forms contain it).
//
// Each variant is a build's dist/ folder (see README: build a snapshot with git archive + tsc). Per
// "response": scrubHeaders on a typical head, then the body through a streaming Replacer in 16 KiB
// chunks, as the proxy does for a request that carried one secret. Needles are built once (the proxy
// caches them per mapping). Figures: CPU µs per response (process.cpuUsage), median over reps.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const args = process.argv.slice(2);
const variants = [];
let reps = 7;
let ms = 300;
let value;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--variant') {
    const [name, dir] = args[++i].split('=');
    variants.push({ name, dir: resolve(dir) });
  } else if (args[i] === '--reps') reps = Number(args[++i]);
  else if (args[i] === '--ms') ms = Number(args[++i]);
  else if (args[i] === '--value') value = args[++i];
  else throw new Error(`unknown argument ${args[i]}`);
}
if (variants.length === 0) variants.push({ name: 'dist', dir: resolve('dist') });

const SECRET = { secretId: 's1', name: 'KEY', env: 'KEY', placeholder: 'veil_' + 'Ab3'.repeat(10) + 'xy', value: value ?? 'sk-live-4f9a0c2e7b1d8e6f3a5c9b0d2e4f6a8c', hosts: ['bench.local'], locations: ['header'] };
const HEADERS = ['Server', 'nginx/1.22.1', 'Date', new Date(0).toUTCString(), 'Content-Type', 'application/json; charset=utf-8', 'Cache-Control', 'no-store, no-cache, must-revalidate, proxy-revalidate', 'X-Request-Id', 'req_7f3a2b9c4d5e6f708192a3b4c5d6e7f8', 'Connection', 'keep-alive'];
const json = (bytes) => {
  const items = [];
  for (let i = 0; JSON.stringify(items).length < bytes; i++) items.push({ id: i, name: `item-${i}`, tags: ['alpha', 'beta'], score: (i * 7919) % 1000 / 10, note: 'Lorem ipsum dolor sit amet, consectetur adipiscing elit & <b>x</b> %20' });
  return Buffer.from(JSON.stringify(items));
};
const html = (bytes) => Buffer.from('<p>Hello &amp; welcome, see <a href="/x?y=1&amp;z=%2F">here</a>. 0123456789abcdef</p>\n'.repeat(Math.ceil(bytes / 84)));
const BODIES = {
  'ok (bench GET)': Buffer.from('ok'),
  'json 1 KiB': json(1024),
  'json 16 KiB': json(16 * 1024),
  'html 64 KiB': html(64 * 1024),
  // worst cases for a skip-based search: near-misses of the needles everywhere
  'hostile 64 KiB: hex of the value cut short, repeated': Buffer.from((Buffer.from(SECRET.value).toString('hex').slice(0, -2) + ' ').repeat(Math.ceil(65536 / 80))).subarray(0, 65536),
  'hostile 64 KiB: %25 repeated': Buffer.from('%25'.repeat(21846)).subarray(0, 65536),
  'json 16 KiB with 3 echoes': Buffer.concat([json(8 * 1024), Buffer.from(`"${SECRET.value}" ${Buffer.from(`u:${SECRET.value}`).toString('base64')} ${encodeURIComponent(SECRET.value)}`), json(8 * 1024)]),
};

for (const v of variants) {
  v.lib = await import(pathToFileURL(`${v.dir}/substitution/index.js`).href);
  v.needles = v.lib.buildScrubNeedles([SECRET]);
  // the Replacer class lives in stream-replace.js (not re-exported from index in every build)
  v.Replacer = (await import(pathToFileURL(`${v.dir}/substitution/stream-replace.js`).href)).Replacer;
}

function oneResponse(v, body) {
  v.lib.scrubHeaders(HEADERS, v.needles);
  const replacer = new v.Replacer(v.needles.matcher);
  let size = 0;
  for (let offset = 0; offset < body.length; offset += 16384) size += replacer.push(body.subarray(offset, offset + 16384))?.length ?? 0;
  return size + (replacer.end()?.length ?? 0);
}

function measure(v, body) {
  for (let i = 0; i < 50; i++) oneResponse(v, body);
  const start = process.cpuUsage();
  const wallEnd = performance.now() + ms;
  let count = 0;
  while (performance.now() < wallEnd) {
    for (let i = 0; i < 20; i++) oneResponse(v, body);
    count += 20;
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / count;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`| body | ${variants.map((v) => `${v.name} needles`).join(' | ')} | ${variants.map((v) => `${v.name} CPU µs/response`).join(' | ')} |${variants.length > 1 ? ` ${variants.at(-1).name} / ${variants[0].name} |` : ''}`);
console.log(`|---|${variants.map(() => '---|').join('')}${variants.map(() => '---|').join('')}${variants.length > 1 ? '---|' : ''}`);
for (const [name, body] of Object.entries(BODIES)) {
  const results = variants.map(() => []);
  for (let r = 0; r < reps; r++) variants.forEach((v, i) => results[i].push(measure(v, body)));
  const medians = results.map(median);
  const ratio = variants.length > 1 ? ` ${(medians.at(-1) / medians[0]).toFixed(2)} |` : '';
  console.log(`| ${name} | ${variants.map((v) => v.needles.pairs.length).join(' | ')} | ${medians.map((m) => m.toFixed(2)).join(' | ')} |${ratio}`);
}
