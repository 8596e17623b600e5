export { VeilApiError, type ClientOptions } from './http.js';
export { SecretService } from './secrets.js';
export { SandboxService, toMountList } from './sandboxes.js';
export { ApiKeyService, OrgService } from './admin.js';
export type * from './types.js';
