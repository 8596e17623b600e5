/**
 * Who owns a `veil run` sandbox and whether that owner is gone (run-leftovers.ts). The end-to-end
 * test with a real `veil run` killed by SIGKILL is in run.test.ts (local) and remote.test.ts.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  currentRunOwner,
  deleteLeftoverRunSandboxes,
  machineId,
  ownerGone,
  ownerOfSandboxName,
  runSandboxName,
  type SandboxLister,
} from '../../src/runtime/run-leftovers.js';

const linux = process.platform === 'linux';

/** A pid that just exited here, with the start time it had (as a sandbox name would record it). */
async function deadProcess(): Promise<{ pid: number; start: string }> {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const pid = child.pid!;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  return { pid, start };
}

function recordingLister(sandboxes: Array<{ id: string; name: string }>): SandboxLister & { deleted: string[] } {
  const deleted: string[] = [];
  return {
    deleted,
    list: async () => sandboxes,
    delete: async (id) => {
      deleted.push(id);
    },
  };
}

describe.skipIf(!linux)('veil run sandbox owners', () => {
  it('names a sandbox after this process, and reads the owner back', () => {
    const self = currentRunOwner();
    expect(self).not.toBeNull();
    expect(self!.pid).toBe(process.pid);
    const name = runSandboxName(self)!;
    expect(name).toMatch(/^veil-run-[0-9a-f]{16}-\d+-\d+-[0-9a-f]{8}$/);
    expect(name.length).toBeLessThanOrEqual(128);
    expect(ownerOfSandboxName(name)).toEqual(self);
    expect(runSandboxName(self)).not.toBe(name);
    for (const other of ['veil-run-by-hand', 'my-agent', 'veil-run-0123456789abcdef-0-1-00000000', `x${name}`]) expect(ownerOfSandboxName(other)).toBeNull();
  });

  it('a live owner is never gone; a dead pid, or a pid started at another time, is; another machine is not judged', async () => {
    const self = currentRunOwner()!;
    expect(ownerGone(self, self)).toBe(false);
    expect(ownerGone({ ...self, start: `${self.start}1` }, self)).toBe(true);
    expect(ownerGone({ ...self, pid: 1, machine: 'f'.repeat(16) }, self)).toBe(false);

    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const pid = child.pid!;
      // The child's real start time, as the name of a sandbox it created would hold it.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
      const owner = { machine: self.machine, pid, start };
      expect(ownerGone(owner, self)).toBe(false);
      expect(ownerGone({ ...owner, start: `${start}0` }, self)).toBe(true);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      expect(ownerGone(owner, self)).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('deletes only sandboxes of gone owners of this machine, and goes on past failures', async () => {
    const self = currentRunOwner()!;
    const dead = `veil-run-${self.machine}-${self.pid}-${self.start}1-00000000`;
    const live = runSandboxName(self)!;
    const foreign = 'veil-run-0123456789abcdef-1-1-00000000';
    const sandboxes = [
      { id: 'a', name: dead },
      { id: 'b', name: live },
      { id: 'c', name: foreign },
      { id: 'd', name: 'by-hand' },
    ];
    const deleted: string[] = [];
    let stderr = '';
    const sink = { write: (text: string) => ((stderr += text), true) } as unknown as NodeJS.WritableStream;
    const result = await deleteLeftoverRunSandboxes(
      {
        list: async () => sandboxes,
        delete: async (id) => {
          deleted.push(id);
        },
      },
      sink,
      self,
    );
    expect(result).toEqual(['a']);
    expect(deleted).toEqual(['a']);
    expect(stderr).toBe('');

    const failing = await deleteLeftoverRunSandboxes(
      {
        list: async () => {
          throw new Error('503 unavailable');
        },
        delete: async () => {},
      },
      sink,
      self,
    );
    expect(failing).toEqual([]);
    expect(stderr).toContain('could not list sandboxes');
  });

  it('the machine is this boot of this host: same hostname with another boot id is not ours, and is never swept', async () => {
    const self = currentRunOwner()!;
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const pidNamespace = readlinkSync('/proc/self/ns/pid');
    expect(self.machine).toBe(machineId({ bootId, pidNamespace, hostname: hostname() }));

    // A clone of this VM image that kept the hostname, booted on its own: same hostname, new boot id.
    const clone = machineId({ bootId: randomUUID(), pidNamespace, hostname: hostname() });
    // A container on this kernel: same boot id (and here the same pid namespace), another hostname.
    const container = machineId({ bootId, pidNamespace, hostname: `${hostname()}-other` });
    expect(new Set([self.machine, clone, container]).size).toBe(3);

    // A pid that is dead *here*: a run of this machine with it is gone, the same pid and start
    // time on the clone or in the container say nothing about their (maybe live) run.
    const dead = await deadProcess();
    expect(ownerGone({ machine: self.machine, ...dead }, self)).toBe(true);
    expect(ownerGone({ machine: clone, ...dead }, self)).toBe(false);
    expect(ownerGone({ machine: container, ...dead }, self)).toBe(false);

    const ours = runSandboxName({ machine: self.machine, ...dead })!;
    const clones = runSandboxName({ machine: clone, ...dead })!;
    const containers = runSandboxName({ machine: container, ...dead })!;
    expect(ownerOfSandboxName(clones)).toEqual({ machine: clone, ...dead });
    const lister = recordingLister([
      { id: 'ours', name: ours },
      { id: 'clone', name: clones },
      { id: 'container', name: containers },
    ]);
    expect(await deleteLeftoverRunSandboxes(lister, process.stderr, self)).toEqual(['ours']);
    expect(lister.deleted).toEqual(['ours']);
  });
});
