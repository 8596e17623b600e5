export * from './envelope.js';
export * from './master-key.js';
export * from './tokens.js';
