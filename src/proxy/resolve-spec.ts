import { isIP } from 'node:net';
import { normalizeDestinationHost } from '../hosts/hosts.js';

/**
 * Parses VEIL_RESOLVE pins: `host=ip,host=ip` -> Map(normalized host -> ip). Pins let tests and
 * split-horizon setups send a host name to a fixed address while SNI and certificate checks still
 * use the name. Throws on a malformed entry (configuration error, reported at startup).
 */
export function parseResolveSpec(spec: string | undefined): Map<string, string> {
  const pins = new Map<string, string>();
  if (!spec) return pins;
  for (const rawEntry of spec.split(',')) {
    const entry = rawEntry.trim();
    if (entry === '') continue;
    const equals = entry.indexOf('=');
    if (equals <= 0) throw new Error(`resolve entry "${entry}" must look like host=ip`);
    const host = normalizeDestinationHost(entry.slice(0, equals));
    const ip = entry.slice(equals + 1).trim().replace(/^\[(.*)\]$/, '$1');
    if (isIP(ip) === 0) throw new Error(`resolve entry "${entry}": "${ip}" is not an IP address`);
    pins.set(host, ip);
  }
  return pins;
}

/**
 * Pins from already parsed entries (VeilConfig.resolve: `{host, port?, address}`). Pins apply to a
 * host on every port: a port in the entry is accepted and ignored.
 */
export function pinsFromEntries(entries: Iterable<{ host: string; address: string }>): Map<string, string> {
  const pins = new Map<string, string>();
  for (const entry of entries) pins.set(normalizeDestinationHost(entry.host), entry.address.replace(/^\[(.*)\]$/, '$1'));
  return pins;
}
