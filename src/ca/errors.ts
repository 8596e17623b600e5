/**
 * A problem with Veil's CA files or with a name we were asked to mint for. Messages name files and
 * hosts only; they never contain key material.
 */
export class CaError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CaError';
  }
}
