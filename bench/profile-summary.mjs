#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self and inclusive time per function, as % of the
// non-idle samples, optionally only samples inside a time window (skip startup).
//
//   node bench/profile-summary.mjs FILE.cpuprofile [--top N] [--from S] [--to S] [--match REGEX]
//
// --from/--to are seconds since the profile started; --match lists inclusive % for functions whose
// "name file" matches. Used for bench/PROFILE.md; see bench/README.md ("Profiling").
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--') && !/^\d/.test(a));
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
if (!file) {
  console.error('usage: node bench/profile-summary.mjs FILE.cpuprofile [--top N] [--from S] [--to S] [--match REGEX]');
  process.exit(2);
}
const top = Number(opt('top', 30));
const from = Number(opt('from', 0)) * 1e6;
const to = Number(opt('to', Infinity)) * 1e6;
const match = opt('match', null);

const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const label = (n) => {
  const f = n.callFrame;
  const where = f.url ? `${f.url.replace(/^.*\/(node_modules\/|src\/|dist\/)/, '$1')}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
};
const IDLE = new Set(['(idle)', '(root)']);

const self = new Map();
const inclusive = new Map();
let total = 0;
let t = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i] ?? 0;
  const rel = t - profile.startTime;
  if (rel < from || rel > to) continue;
  const node = byId.get(profile.samples[i]);
  if (IDLE.has(node.callFrame.functionName)) continue;
  total += 1;
  const name = label(node);
  self.set(name, (self.get(name) ?? 0) + 1);
  const seen = new Set();
  for (let id = node.id; id !== undefined; id = parent.get(id)) {
    const l = label(byId.get(id));
    if (seen.has(l)) continue;
    seen.add(l);
    inclusive.set(l, (inclusive.get(l) ?? 0) + 1);
  }
}
const pct = (n) => ((100 * n) / Math.max(1, total)).toFixed(1).padStart(5);
console.log(`${total} non-idle samples`);
console.log('\nself:');
for (const [name, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(n)}  ${name}`);
console.log('\ninclusive:');
const re = match ? new RegExp(match) : null;
for (const [name, n] of [...inclusive].sort((a, b) => b[1] - a[1]).filter(([name]) => (re ? re.test(name) : true)).slice(0, top)) {
  console.log(`${pct(n)}  ${name}`);
}
