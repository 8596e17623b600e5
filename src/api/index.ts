export { buildApi, BODY_LIMIT, PROXY_TOKEN_HASH_HEADER, type ApiDeps } from './server.js';
export { openControlPlane, verifyMasterKey, type ControlPlane, type ControlPlaneOptions } from './control-plane.js';
export { errorBody, type ErrorBody } from './errors.js';
export { ORG_HEADER } from './auth.js';
