export { UsageError } from './errors.js';
export { CONFIG_FLAGS, DEFAULTS, loadConfig, type ConfigFlags, type Env, type VeilConfig } from './config.js';
export { adminMode, apiUrlSetting, type AdminMode, type ModeFlags } from './mode.js';
export {
  DISALLOWED_MODES,
  LOG_LEVELS,
  parseBoolean,
  parseDatabaseUrl,
  parseDisallowed,
  parseHttpUrl,
  parseListen,
  parseLogLevel,
  parseResolve,
  type DisallowedMode,
  type ListenAddress,
  type LogLevel,
  type ResolveEntry,
} from './parse.js';
