export * from './types.js';
export { openSqliteRepository, SqliteRepository } from './sqlite.js';
