/** Package entry: the TS client, API types and the composition root. */
export {
  ApiKeyService,
  OrgService,
  SandboxService,
  SecretService,
  toMountList,
  VeilApiError,
  type ApiKey,
  type ClientOptions,
  type CreateApiKeyParams,
  type CreateSandboxParams,
  type CreateSecretParams,
  type ListSecretsResponse,
  type Org,
  type ResolvedSandboxSecret,
  type Sandbox,
  type Scope,
  type Secret,
  type SecretLocation,
  type SecretMounts,
  type SecretPageQuery,
  type SecretSort,
  type UpdateSecretParams,
} from './client/index.js';
export { startVeil, type RunningVeil, type StartOptions } from './app/index.js';
export { loadConfig, UsageError, type VeilConfig } from './config/index.js';
export { SCOPES, SECRET_LOCATIONS } from './store/types.js';
