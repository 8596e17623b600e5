// /proc readers: CPU time and memory of a process tree, machine load.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';

const TICK_US = 1e6 / 100; // USER_HZ is 100 on Linux (sysconf(_SC_CLK_TCK))

function readStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // rest[0] = state (field 3); ppid = field 4; utime = field 14; stime = field 15
    return { ppid: Number(rest[1]), utime: Number(rest[11]), stime: Number(rest[12]) };
  } catch {
    return null;
  }
}

/** pid plus all its descendants (squid's helpers, etc.). */
export function processTree(rootPid) {
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(name);
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(Number(name));
    children.set(st.ppid, list);
  }
  const out = [];
  const stack = [rootPid];
  while (stack.length) {
    const p = stack.pop();
    out.push(p);
    for (const c of children.get(p) ?? []) stack.push(c);
  }
  return out;
}

/** utime+stime (all threads) of the tree rooted at pid, microseconds. */
export function treeCpuUs(rootPid) {
  let ticks = 0;
  for (const p of processTree(rootPid)) {
    const st = readStat(p);
    if (st) ticks += st.utime + st.stime;
  }
  return ticks * TICK_US;
}

function statusKb(pid, field) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Resident set (KiB) of the tree. */
export function treeRssKb(rootPid) {
  return processTree(rootPid).reduce((a, p) => a + statusKb(p, 'VmRSS'), 0);
}

/** Peak resident set (KiB) of one process (VmHWM). */
export function hwmKb(pid) {
  return statusKb(pid, 'VmHWM');
}

/** Reset VmHWM to the current RSS (Linux >= 4.0, needs write access to clear_refs). */
export function resetHwm(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export function loadavg1() {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return NaN;
  }
}

/** Machine-wide CPU counters (jiffies): busy and total, to get utilisation over an interval. */
export function machineCpu() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = (line[3] ?? 0) + (line[4] ?? 0);
  const total = line.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}
