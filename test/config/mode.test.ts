/** adminMode: the one rule for "remote control plane or local store" of the client commands. */
import { describe, expect, it } from 'vitest';
import { commandTarget } from '../../src/cli/remote.js';
import { adminMode, UsageError, type Env, type ModeFlags } from '../../src/config/index.js';

const API = 'http://127.0.0.1:8080';
const OTHER_API = 'https://veil.example:8443';
const PG = 'postgres://veil@127.0.0.1:5432/veil';

interface Row {
  name: string;
  flags: ModeFlags;
  env: Env;
  expected: ReturnType<typeof adminMode>;
}

const local = (dataDir: string, dataDirFlag: boolean, databaseUrl?: string) => ({ kind: 'local' as const, dataDir, dataDirFlag, databaseUrl });

const rows: Row[] = [
  // No API URL: local, on SQLite or PostgreSQL.
  { name: 'nothing set', flags: {}, env: {}, expected: local('./.veil', false) },
  { name: 'VEIL_DATA_DIR', flags: {}, env: { VEIL_DATA_DIR: '/env-dir' }, expected: local('/env-dir', false) },
  { name: '--data-dir', flags: { 'data-dir': '/flag-dir' }, env: { VEIL_DATA_DIR: '/env-dir' }, expected: local('/flag-dir', true) },
  { name: 'VEIL_DATABASE_URL', flags: {}, env: { VEIL_DATABASE_URL: PG }, expected: local('./.veil', false, PG) },
  { name: '--data-dir + VEIL_DATABASE_URL', flags: { 'data-dir': '/flag-dir' }, env: { VEIL_DATABASE_URL: PG }, expected: local('/flag-dir', true, PG) },
  // An empty env var counts as unset.
  { name: 'empty VEIL_API_URL', flags: {}, env: { VEIL_API_URL: '', VEIL_DATA_DIR: '' }, expected: local('./.veil', false) },
  // API URL set, no --data-dir: remote, whatever VEIL_DATA_DIR and VEIL_DATABASE_URL say.
  { name: 'VEIL_API_URL', flags: {}, env: { VEIL_API_URL: API }, expected: { kind: 'remote', apiUrl: API } },
  { name: '--api-url', flags: { 'api-url': `${OTHER_API}/` }, env: {}, expected: { kind: 'remote', apiUrl: OTHER_API } },
  { name: '--api-url over VEIL_API_URL', flags: { 'api-url': OTHER_API }, env: { VEIL_API_URL: API }, expected: { kind: 'remote', apiUrl: OTHER_API } },
  { name: 'VEIL_API_URL + VEIL_DATA_DIR', flags: {}, env: { VEIL_API_URL: API, VEIL_DATA_DIR: '/env-dir' }, expected: { kind: 'remote', apiUrl: API } },
  { name: 'VEIL_API_URL + VEIL_DATABASE_URL', flags: {}, env: { VEIL_API_URL: API, VEIL_DATABASE_URL: PG }, expected: { kind: 'remote', apiUrl: API } },
  // An explicit --data-dir wins over an API URL.
  { name: 'VEIL_API_URL + --data-dir', flags: { 'data-dir': '/flag-dir' }, env: { VEIL_API_URL: API }, expected: local('/flag-dir', true) },
  { name: '--api-url + --data-dir', flags: { 'api-url': OTHER_API, 'data-dir': '/flag-dir' }, env: {}, expected: local('/flag-dir', true) },
  {
    name: 'VEIL_API_URL + --data-dir + VEIL_DATABASE_URL',
    flags: { 'data-dir': '/flag-dir' },
    env: { VEIL_API_URL: API, VEIL_DATABASE_URL: PG },
    expected: local('/flag-dir', true, PG),
  },
];

describe('adminMode', () => {
  it.each(rows)('$name', ({ flags, env, expected }) => {
    expect(adminMode(flags, env)).toEqual(expected);
  });

  it.each([
    { name: 'bad --api-url', flags: { 'api-url': 'ftp://x' }, env: {}, message: '--api-url: expected an http(s) URL' },
    { name: 'bad VEIL_API_URL, even with --data-dir', flags: { 'data-dir': '/d' }, env: { VEIL_API_URL: 'nope' }, message: 'VEIL_API_URL: expected an http(s) URL' },
    { name: 'empty --data-dir', flags: { 'data-dir': '' }, env: {}, message: '--data-dir: must not be empty' },
    { name: 'bad VEIL_DATABASE_URL in local mode', flags: {}, env: { VEIL_DATABASE_URL: 'mysql://x' }, message: 'VEIL_DATABASE_URL' },
  ])('refuses $name with a usage error', ({ flags, env, message }) => {
    let caught: unknown;
    try {
      adminMode(flags, env);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as Error).message).toContain(message);
  });
});

describe('commandTarget (what secrets, run and env hand to src/runtime)', () => {
  it('remote: the decided mode and the env as it was', () => {
    const target = commandTarget({ VEIL_API_URL: `${API}/`, VEIL_API_KEY: 'k' }, {});
    expect(target).toEqual({ mode: { kind: 'remote', apiUrl: API }, env: { VEIL_API_URL: `${API}/`, VEIL_API_KEY: 'k' } });
  });

  it('local because of --data-dir: no API URL anywhere, so nothing further down can go remote', () => {
    const target = commandTarget({ VEIL_API_URL: API, VEIL_API_KEY: 'k', HOME: '/h' }, { 'api-url': OTHER_API, 'data-dir': '/d' });
    expect(target.mode).toEqual(local('/d', true));
    expect(target.env).toEqual({ VEIL_API_KEY: 'k', HOME: '/h' });
  });

  it('local without an API URL: the env as it was', () => {
    const target = commandTarget({ VEIL_DATA_DIR: '/env-dir' }, {});
    expect(target).toEqual({ mode: local('/env-dir', false), env: { VEIL_DATA_DIR: '/env-dir' } });
  });
});
