import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The test database; CI can point elsewhere with VEIL_TEST_DATABASE_URL. */
export const TEST_DATABASE_URL = process.env.VEIL_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A random schema name, so parallel test files never see each other's tables. */
export function randomSchemaName(prefix = 'veil_test'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** Runs one statement on a short-lived connection (for setup and teardown). */
export async function adminQuery(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}
