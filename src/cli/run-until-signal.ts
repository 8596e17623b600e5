import type { Logger } from '../log/logger.js';

/** Grace period after close() before forcing the exit, in case a handle keeps the loop alive. */
const EXIT_GRACE_MS = 2_000;

/**
 * Keeps a long-running command (serve, proxy) up until SIGTERM or SIGINT, then drains it and
 * exits 0. A second signal while draining means "now" (exit 1).
 */
export async function runUntilSignal(service: { logger: Logger; close(): Promise<void> }): Promise<number> {
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const force = () => process.exit(1);
  process.once('SIGTERM', force);
  process.once('SIGINT', force);
  service.logger.info({ signal }, 'shutting down: draining in-flight requests');
  await service.close();
  service.logger.info('stopped');
  setTimeout(() => process.exit(0), EXIT_GRACE_MS).unref();
  return 0;
}
