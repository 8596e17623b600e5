import { openPostgresRepository } from '../../src/store/postgres.js';
import { describeRepositoryContract } from './repository-contract.js';
import { TEST_DATABASE_URL, dropSchema, randomSchemaName } from './pg-test-db.js';

const pgSchema = randomSchemaName('veil_contract');
describeRepositoryContract(
  'PostgreSQL',
  () => openPostgresRepository(TEST_DATABASE_URL, { schema: pgSchema, poolSize: 4 }),
  () => dropSchema(pgSchema),
);
