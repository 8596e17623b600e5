import { normalizeDestinationHost } from '../hosts/hosts.js';

/**
 * VEIL_RESOLVE pins from the parsed config entries (VeilConfig.resolve: `{host, port?, address}`) ->
 * Map(normalized host -> ip). Pins send a name to a fixed address while SNI and certificate checks
 * still use the name. They apply to a host on every port: a port in an entry is ignored.
 */
export function pinsFromEntries(entries: Iterable<{ host: string; address: string }>): Map<string, string> {
  const pins = new Map<string, string>();
  for (const entry of entries) pins.set(normalizeDestinationHost(entry.host), entry.address.replace(/^\[(.*)\]$/, '$1'));
  return pins;
}
