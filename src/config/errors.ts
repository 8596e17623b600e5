/**
 * A problem with how Veil was invoked (a bad flag, env var or argument). The CLI prints the
 * message and exits with code 2, the conventional "usage error" status, distinct from runtime
 * failures (exit 1). Messages quote the offending input, which is never a secret value: values are
 * not accepted on the command line or in these env vars.
 */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
