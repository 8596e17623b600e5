export { startVeil, type RunningVeil, type StartOptions } from './start.js';
export { openRepository, SQLITE_FILE } from './repository.js';
export type { EmbeddedProxy, EmbeddedProxyContext } from './proxy-hook.js';
