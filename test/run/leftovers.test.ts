/**
 * Who owns a `veil run` sandbox and whether that owner is gone (run-leftovers.ts). The end-to-end
 * test with a real `veil run` killed by SIGKILL is in run.test.ts (local) and remote.test.ts.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { currentRunOwner, deleteLeftoverRunSandboxes, ownerGone, ownerOfSandboxName, runSandboxName } from '../../src/runtime/run-leftovers.js';

const linux = process.platform === 'linux';

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
});
