/**
 * Polls `probe` until it holds, then resolves to the time it took; throws after `timeoutMs` so a
 * broken mechanism fails the test instead of hanging it. One helper for every "wait until seen".
 */
export async function eventually(probe: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000, intervalMs = 100): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
