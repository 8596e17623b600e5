import type { AddressInfo } from 'node:net';

/**
 * A URL clients can use for a bound address: unspecified addresses (0.0.0.0, ::) become loopback,
 * IPv6 gets brackets.
 */
export function urlForAddress(address: AddressInfo | string | null, scheme = 'http'): string {
  if (address === null || typeof address === 'string') throw new Error('server is not listening on a TCP port');
  let host = address.address;
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}
