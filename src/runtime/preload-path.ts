/** Where the Node preload lives on disk, for NODE_OPTIONS of children. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Absolute path of dist/runtime/node-proxy-preload.js. From the built package it sits next to this
 * file; when this module runs from src (tests through vitest) the compiled twin under dist/ is used,
 * since a child `node` cannot import TypeScript. Undefined when neither exists (not built yet).
 */
export function nodePreloadPath(): string | undefined {
  const here = fileURLToPath(import.meta.url);
  const sibling = here.replace(/preload-path\.(js|ts)$/, 'node-proxy-preload.js');
  if (here.endsWith('.js') && existsSync(sibling)) return sibling;
  const built = fileURLToPath(new URL('../../dist/runtime/node-proxy-preload.js', import.meta.url));
  return existsSync(built) ? built : undefined;
}
