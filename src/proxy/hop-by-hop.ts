/**
 * Headers that describe one connection, not the message: a proxy must not forward them
 * (RFC 9110 7.6.1). `Upgrade` is dropped here (upgrade.ts puts it back for Upgrade requests); `Expect` is answered by
 * Node's server itself (100-continue) and undici refuses it. Every `Proxy-*` header is ours.
 */
const ALWAYS_STRIPPED = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'expect',
  'http2-settings',
]);

/** Removes hop-by-hop and Proxy-* headers from a raw [name, value, ...] list, keeping order and casing. */
export function stripHopByHop(rawHeaders: readonly string[]): string[] {
  // Most messages have no Connection header: no Set for them (this runs twice per proxied request).
  let listedInConnection: Set<string> | null = null;
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    if (rawHeaders[index]!.toLowerCase() !== 'connection') continue;
    for (const token of rawHeaders[index + 1]!.split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '') (listedInConnection ??= new Set()).add(name);
    }
  }
  const kept: string[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = rawHeaders[index]!;
    const lower = name.toLowerCase();
    if (ALWAYS_STRIPPED.has(lower) || listedInConnection?.has(lower) === true || lower.startsWith('proxy-')) continue;
    kept.push(name, rawHeaders[index + 1]!);
  }
  return kept;
}

/** First value of a header in a raw list (case-insensitive), or undefined. */
export function rawHeaderValue(rawHeaders: readonly string[], wanted: string): string | undefined {
  const lowerWanted = wanted.toLowerCase();
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    if (rawHeaders[index]!.toLowerCase() === lowerWanted) return rawHeaders[index + 1];
  }
  return undefined;
}

/** How many times a header appears in a raw list (case-insensitive). */
export function countHeader(rawHeaders: readonly string[], wanted: string): number {
  const lowerWanted = wanted.toLowerCase();
  let count = 0;
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    if (rawHeaders[index]!.toLowerCase() === lowerWanted) count += 1;
  }
  return count;
}

/** A raw list without every occurrence of a header (case-insensitive). */
export function withoutHeader(rawHeaders: readonly string[], unwanted: string): string[] {
  const lowerUnwanted = unwanted.toLowerCase();
  const kept: string[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    if (rawHeaders[index]!.toLowerCase() !== lowerUnwanted) kept.push(rawHeaders[index]!, rawHeaders[index + 1]!);
  }
  return kept;
}

/** Sets every occurrence of a header (case-insensitive) in a raw list to `value`, in place. */
export function setHeaderValue(rawHeaders: string[], wanted: string, value: string): void {
  const lowerWanted = wanted.toLowerCase();
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    if (rawHeaders[index]!.toLowerCase() === lowerWanted) rawHeaders[index + 1] = value;
  }
}
