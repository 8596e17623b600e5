import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgresRepository } from '../../src/store/postgres.js';
import { openSqliteRepository } from '../../src/store/sqlite.js';
import { describeRepositoryContract } from './repository-contract.js';
import { TEST_DATABASE_URL, dropSchema, randomSchemaName } from './pg-test-db.js';

const sqliteDir = mkdtempSync(join(tmpdir(), 'veil-repo-contract-'));
describeRepositoryContract(
  'SQLite',
  () => openSqliteRepository(join(sqliteDir, 'veil.db')),
  async () => rmSync(sqliteDir, { recursive: true, force: true }),
);

const pgSchema = randomSchemaName('veil_contract');
describeRepositoryContract(
  'PostgreSQL',
  () => openPostgresRepository(TEST_DATABASE_URL, { schema: pgSchema, poolSize: 4 }),
  () => dropSchema(pgSchema),
);
