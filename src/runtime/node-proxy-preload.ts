/**
 * Loaded into Node children with `NODE_OPTIONS=--import=<this file>` (see child-env.ts).
 *
 * Node 20's built-in fetch ignores HTTP_PROXY/HTTPS_PROXY. undici's `setGlobalDispatcher` stores the
 * dispatcher under `Symbol.for('undici.globalDispatcher.1')` on globalThis, the slot Node's bundled
 * undici reads too: so built-in fetch, and any copy of the undici package, route through the
 * EnvHttpProxyAgent, which honours HTTP(S)_PROXY and NO_PROXY (and sends Proxy-Authorization from
 * credentials in the proxy URL). Trust comes from NODE_EXTRA_CA_CERTS, read by Node at startup.
 *
 * Must stay side-effect free apart from that, and must never throw: a broken preload would stop
 * every Node program in the sandbox.
 */
import { EnvHttpProxyAgent, setGlobalDispatcher } from 'undici';

const env = process.env;
if (env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy) {
  try {
    setGlobalDispatcher(new EnvHttpProxyAgent());
  } catch (error) {
    // The message could quote the proxy URL (with its token): name the error only.
    process.emitWarning(`veil: could not route fetch through the proxy (${(error as Error).name})`);
  }
}
