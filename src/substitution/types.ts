import type { ResolvedSecret } from '../resolver/types.js';

/**
 * A sandbox's secrets prepared once for fast scanning (built when a mapping enters the proxy cache).
 * Implemented in src/substitution/compile.ts: `compileSecrets(secrets)`.
 */
export interface CompiledSecrets {
  readonly secrets: readonly ResolvedSecret[];
  /** placeholder -> secret */
  readonly byPlaceholder: ReadonlyMap<string, ResolvedSecret>;
}

export interface HeadRewriteInput {
  compiled: CompiledSecrets;
  /** Destination host, already normalized with normalizeDestinationHost. */
  host: string;
  /** Request target: path + query (origin-form). */
  target: string;
  /** Node's `req.rawHeaders` shape: [name, value, name, value, ...]; names keep their casing. */
  rawHeaders: readonly string[];
  /** Secrets with no hosts are substituted everywhere (Daytona's behaviour) only when true. */
  allowUnrestricted: boolean;
}

export type SubstitutionLocation = 'header' | 'url' | 'body';

export interface HeadRewriteResult {
  target: string;
  rawHeaders: string[];
  /** Secrets whose value was put in (for response scrubbing; log their names only). */
  substituted: ResolvedSecret[];
  /** Placeholders of mounted secrets that were NOT swapped: host not allowed or location not enabled. */
  disallowed: { name: string; where: SubstitutionLocation }[];
  /** Secrets whose value cannot go into a header/URL (contains CR, LF or NUL): the request must be refused (400). */
  unsafe: { name: string; where: SubstitutionLocation }[];
}

/** Implemented in src/substitution/head.ts: `rewriteRequestHead(input): HeadRewriteResult`. Pure. */
export type RewriteRequestHead = (input: HeadRewriteInput) => HeadRewriteResult;
