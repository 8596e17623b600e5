/**
 * Sandboxes left behind by a `veil run` that was killed outright (SIGKILL, OOM killer, power loss):
 * it deletes its sandbox on every exit it gets to run code for, but not on those.
 *
 * Without `--sandbox-name`, `veil run` names its sandbox after the process that owns it:
 *
 *   veil-run-<machine>-<pid>-<start>-<random>
 *
 * `machine` (machineId) is a 16-hex digest of the running kernel instance and the host: the
 * kernel's boot id (/proc/sys/kernel/random/boot_id, new on every boot, so clones of one VM image
 * that keep its hostname are told apart once booted), the pid namespace, and the hostname
 * (containers on one kernel share its boot id, some even its pid namespace, but not a hostname;
 * nor do VMs resumed from one memory snapshot once renamed). `pid` and `start` (start time in
 * clock ticks since boot, from /proc) identify the process, `random` keeps runs of one process
 * apart. Before it creates its own sandbox, every `veil run` lists the sandboxes it can see and
 * deletes those named for a process of *its own* machine that no longer exists (no such pid, or
 * the pid now belongs to a process started at another time). A sandbox of a live run is never
 * touched; one of another machine (another boot, namespace or hostname) is left to a run there.
 * With a shared control plane (remote mode) this keeps a run on one host from deleting the
 * sandbox of a live run on another.
 *
 * Linux only (it needs /proc): elsewhere, and when /proc does not match this process, sandboxes
 * keep the old default name (their id) and nothing is swept. A `--sandbox-name` sandbox is never
 * swept: nothing records its owner. Not covered: VMs *resumed* (not booted) from one memory
 * snapshot that keep its hostname share boot id, namespace ids and hostname: one machine to this.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

export const RUN_SANDBOX_PREFIX = 'veil-run-';
const NAME = /^veil-run-([0-9a-f]{16})-([1-9][0-9]{0,9})-([0-9]{1,20})-[0-9a-f]{8}$/;

export interface RunOwner {
  /** machineId(): digest of boot id + pid namespace + hostname. */
  machine: string;
  pid: number;
  /** Start time of the process, clock ticks since boot (field 22 of /proc/<pid>/stat). */
  start: string;
}

/** pid and start time from the text of /proc/<pid>/stat (the command name may hold spaces and parentheses). */
function parseStat(text: string): { pid: number; start: string } | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const pid = Number.parseInt(text.slice(0, text.indexOf(' ')), 10);
  // Fields after the name start at field 3 (state); starttime is field 22.
  const start = text.slice(close + 2).split(' ')[19];
  return Number.isInteger(pid) && start && /^[0-9]+$/.test(start) ? { pid, start } : null;
}

/** The machine part of a run sandbox's name: which kernel instance, pid namespace and host. */
export function machineId(parts: { bootId: string; pidNamespace: string; hostname: string }): string {
  return createHash('sha256').update(`${parts.bootId}\n${parts.pidNamespace}\n${parts.hostname}`).digest('hex').slice(0, 16);
}

let cachedOwner: RunOwner | null | undefined;

/** This process as an owner, or null when it cannot be identified soundly (not Linux, odd /proc). */
export function currentRunOwner(): RunOwner | null {
  if (cachedOwner !== undefined) return cachedOwner;
  cachedOwner = null;
  if (process.platform !== 'linux') return null;
  try {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const pidNamespace = readlinkSync('/proc/self/ns/pid');
    const self = parseStat(readFileSync('/proc/self/stat', 'utf8'));
    // /proc must be this pid namespace's, or the pids it shows are not the ones getpid() gives.
    if (!bootId || !/^pid:\[\d+\]$/.test(pidNamespace) || !self || self.pid !== process.pid) return null;
    cachedOwner = { machine: machineId({ bootId, pidNamespace, hostname: hostname() }), pid: self.pid, start: self.start };
  } catch {
    cachedOwner = null;
  }
  return cachedOwner;
}

/** The default name of a sandbox created by `veil run` in this process (undefined: let the server name it). */
export function runSandboxName(owner: RunOwner | null = currentRunOwner()): string | undefined {
  if (!owner) return undefined;
  return `${RUN_SANDBOX_PREFIX}${owner.machine}-${owner.pid}-${owner.start}-${randomBytes(4).toString('hex')}`;
}

/** The owner recorded in a sandbox name, or null for a name `veil run` did not make. */
export function ownerOfSandboxName(name: string): RunOwner | null {
  const match = NAME.exec(name);
  return match ? { machine: match[1]!, pid: Number(match[2]), start: match[3]! } : null;
}

/**
 * Whether the process that owned a sandbox is certainly gone. Only for owners on `self`'s machine
 * and pid namespace; anything uncertain counts as alive.
 */
export function ownerGone(owner: RunOwner, self: RunOwner): boolean {
  if (owner.machine !== self.machine) return false;
  if (owner.pid === self.pid) return owner.start !== self.start;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    // ESRCH: no such process. EPERM: it exists (another user's), maybe behind hidepid: alive.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = parseStat(readFileSync(`/proc/${owner.pid}/stat`, 'utf8'));
    // The pid was reused by a process started at another time: the owner is gone.
    return stat !== null && stat.pid === owner.pid && stat.start !== owner.start;
  } catch {
    return false;
  }
}

export interface SandboxLister {
  list(): Promise<Array<{ id: string; name: string }>>;
  delete(id: string): Promise<void>;
}

/**
 * Deletes the sandboxes of dead `veil run` processes of this machine. Never throws: problems are
 * reported on `stderr` and the run goes on. Returns the ids it deleted.
 */
export async function deleteLeftoverRunSandboxes(sandboxes: SandboxLister, stderr: NodeJS.WritableStream, self: RunOwner | null = currentRunOwner()): Promise<string[]> {
  if (!self) return [];
  let listed: Array<{ id: string; name: string }>;
  try {
    listed = await sandboxes.list();
  } catch (error) {
    stderr.write(`veil: could not list sandboxes to remove those of killed runs: ${(error as Error).message}\n`);
    return [];
  }
  const deleted: string[] = [];
  for (const sandbox of listed) {
    const owner = ownerOfSandboxName(sandbox.name);
    if (!owner || !ownerGone(owner, self)) continue;
    try {
      await sandboxes.delete(sandbox.id);
      deleted.push(sandbox.id);
    } catch (error) {
      // Another run may have deleted it first.
      if ((error as { statusCode?: number }).statusCode === 404) continue;
      stderr.write(`veil: could not delete sandbox ${sandbox.id} of a killed run: ${(error as Error).message}\n`);
    }
  }
  return deleted;
}
