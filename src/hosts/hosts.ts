/**
 * Host allowlists: normalizing the patterns users store and matching destination hosts against
 * them. Pure functions; the proxy and the API validation share them so both agree on every case.
 *
 * Rules: case-insensitive, trailing dot ignored, IDN compared in punycode, ports never part of a
 * host. `api.example.com` matches only itself. `*.example.com` matches subdomains at any depth but
 * NOT `example.com` itself (list the apex explicitly: it fails safe). IP literals match exactly.
 * A wildcard whose base is a public suffix (`*.com`, `*.co.uk`, `*.github.io`) is refused: it
 * would send the value to sites of unrelated owners.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { parse as parseDomain } from 'tldts';

export const MAX_HOSTS = 100;
const MAX_HOSTNAME_LENGTH = 253;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

export type HostPatternResult = { ok: true; value: string } | { ok: false; reason: string };

/** Canonical text of an IPv6 literal (lowercase, zeros compressed), without brackets. */
function canonicalIPv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

function normalizeHostname(raw: string): HostPatternResult {
  const lowered = raw.toLowerCase().replace(/\.$/, '');
  if (lowered === '') return { ok: false, reason: 'is empty' };
  const ascii = domainToASCII(lowered);
  if (ascii === '') return { ok: false, reason: 'is not a valid hostname' };
  // WHATWG parsing turns things like "0x7f.1" into an IPv4 address: refuse the ambiguity.
  if (isIP(ascii) === 4 && ascii !== lowered) return { ok: false, reason: 'is an ambiguous numeric host; write the IPv4 address in dotted-decimal form' };
  if (ascii.length > MAX_HOSTNAME_LENGTH) return { ok: false, reason: `is longer than ${MAX_HOSTNAME_LENGTH} characters` };
  if (isIP(ascii) === 0 && !ascii.split('.').every((label) => LABEL.test(label))) {
    return { ok: false, reason: 'is not a valid hostname' };
  }
  return { ok: true, value: ascii };
}

/**
 * Is `name` (normalized, ASCII) itself a suffix listed in the Public Suffix List, ICANN or private
 * section (`com`, `co.uk`, `github.io`)? Names the list does not know (`corp`, `internal`, `test`)
 * are not: tldts would treat them as one-label suffixes by default, but they are private networks
 * an operator controls.
 */
export function isPublicSuffix(name: string): boolean {
  const parsed = parseDomain(name, { allowPrivateDomains: true, extractHostname: false, validateHostname: false, detectIp: false });
  return parsed.publicSuffix === name && (parsed.isIcann === true || parsed.isPrivate === true);
}

/** Validates and normalizes one allowlist entry as a user wrote it. */
export function normalizeHostPattern(input: string): HostPatternResult {
  if (typeof input !== 'string' || input.length === 0) return { ok: false, reason: 'is empty' };
  if (/\s/.test(input)) return { ok: false, reason: 'must not contain whitespace' };
  if (input.includes('://')) return { ok: false, reason: 'must be a hostname, not a URL (no scheme)' };
  if (/[/?#]/.test(input)) return { ok: false, reason: 'must be a hostname, not a URL (no path)' };
  if (input.includes('@')) return { ok: false, reason: 'must not contain userinfo' };
  if (input === '*' || input === '*.') return { ok: false, reason: 'a bare wildcard would allow every host' };

  const bracketed = /^\[(.*)\]$/.exec(input);
  const ipv6Candidate = bracketed ? bracketed[1]! : input;
  if (isIP(ipv6Candidate) === 6) return { ok: true, value: canonicalIPv6(ipv6Candidate) };
  if (bracketed) return { ok: false, reason: 'is not a valid IPv6 address' };
  if (input.includes(':')) return { ok: false, reason: 'must not contain a port' };
  if (isIP(input) === 4) return { ok: true, value: input };

  if (input.startsWith('*.')) {
    const base = input.slice(2);
    if (base.includes('*')) return { ok: false, reason: 'may only have a wildcard as its first label ("*.example.com")' };
    if (isIP(base.replace(/\.$/, '')) !== 0) return { ok: false, reason: 'wildcards are not allowed on IP addresses' };
    const normalized = normalizeHostname(base);
    if (!normalized.ok) return normalized;
    if (isIP(normalized.value) !== 0) return { ok: false, reason: 'wildcards are not allowed on IP addresses' };
    if (isPublicSuffix(normalized.value)) {
      return { ok: false, reason: `is a wildcard on the public suffix "${normalized.value}": it would match sites of every owner under it; name your own domain ("*.example.${normalized.value}")` };
    }
    return { ok: true, value: `*.${normalized.value}` };
  }
  if (input.includes('*')) return { ok: false, reason: 'may only have a wildcard as its first label ("*.example.com")' };
  return normalizeHostname(input);
}

/**
 * Validates a whole allowlist: returns normalized, de-duplicated entries (first occurrence order)
 * or the first problem, phrased to follow the entry (`hosts[2] "x" must not contain a port`).
 */
export function normalizeHostList(hosts: readonly string[]): { ok: true; value: string[] } | { ok: false; reason: string } {
  if (hosts.length > MAX_HOSTS) return { ok: false, reason: `must have at most ${MAX_HOSTS} entries` };
  const seen = new Set<string>();
  for (const [index, entry] of hosts.entries()) {
    const result = normalizeHostPattern(entry);
    if (!result.ok) return { ok: false, reason: `entry ${index} (${JSON.stringify(String(entry).slice(0, 100))}) ${result.reason}` };
    seen.add(result.value);
  }
  return { ok: true, value: [...seen] };
}

/**
 * Normalizes a destination host as the proxy sees it (CONNECT target, URL host, SNI, Host header
 * without port). Never throws: an unparseable host comes back lowercased and matches nothing real.
 */
export function normalizeDestinationHost(host: string): string {
  let value = host.trim().toLowerCase();
  const bracketed = /^\[(.*)\]$/.exec(value);
  if (bracketed) value = bracketed[1]!;
  if (isIP(value) === 6) return canonicalIPv6(value);
  value = value.replace(/\.$/, '');
  if (isIP(value) === 4) return value;
  const ascii = domainToASCII(value);
  return ascii === '' ? value : ascii;
}

/** Does a normalized destination host match one normalized allowlist pattern? */
export function hostMatchesPattern(pattern: string, host: string): boolean {
  if (pattern.startsWith('*.')) {
    if (isIP(host) !== 0) return false;
    const suffix = pattern.slice(1); // ".example.com"
    return host.length > suffix.length && host.endsWith(suffix);
  }
  return pattern === host;
}

/** Does a normalized destination host match any pattern of a normalized allowlist? */
export function hostAllowed(patterns: readonly string[], host: string): boolean {
  return patterns.some((pattern) => hostMatchesPattern(pattern, host));
}
