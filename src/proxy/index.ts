export { createProxyServer, startProxy, type ProxyServer } from './server.js';
export type { BodyLimits, ProxyOptions, ProxyTimeouts } from './options.js';
export { pinsFromEntries } from './resolve-spec.js';
export { MappingCache, ResolverUnavailableError, type MappingCacheOptions, type SandboxMapping } from './mapping-cache.js';
