import type { ChangeFeed } from '../events/types.js';
import type { Repository } from '../store/types.js';
import { ApiKeysService, OrgsService } from './orgs.js';
import { SandboxesService } from './sandboxes.js';
import { SecretsService } from './secrets.js';

export * from './bootstrap.js';
export * from './cursor.js';
export * from './host-audit.js';
export * from './key-expiry.js';
export * from './orgs.js';
export * from './sandboxes.js';
export * from './secrets.js';
export * from './validation.js';
export * from './views.js';

export interface Services {
  secrets: SecretsService;
  sandboxes: SandboxesService;
  orgs: OrgsService;
  apiKeys: ApiKeysService;
}

export function createServices(deps: { repo: Repository; masterKey: Buffer; feed: ChangeFeed }): Services {
  const orgs = new OrgsService(deps.repo);
  return {
    secrets: new SecretsService(deps.repo, deps.masterKey, deps.feed),
    sandboxes: new SandboxesService(deps.repo, deps.feed),
    orgs,
    apiKeys: new ApiKeysService(deps.repo, orgs),
  };
}
