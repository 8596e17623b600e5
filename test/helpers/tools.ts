import { spawnSync } from 'node:child_process';

/**
 * Whether tests that need an optional client (Java...) should be skipped: only when the tool is
 * missing and we are not in CI. CI installs every client (.ci/run), so there a missing tool fails
 * the test instead of skipping it silently.
 */
export function skipWithout(command: string, args: string[] = ['--version']): boolean {
  if (process.env.CI) return false;
  return spawnSync(command, args).status !== 0;
}
