/** Printing an env object for `veil env`: POSIX shell, dotenv or JSON. Pure. */

export const ENV_FORMATS = ['shell', 'dotenv', 'json'] as const;
export type EnvFormat = (typeof ENV_FORMATS)[number];

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkName(name: string): void {
  if (!NAME.test(name)) throw new TypeError(`${JSON.stringify(name)} is not a valid environment variable name`);
}

/** POSIX single quotes: nothing inside is special; a `'` becomes `'\''`. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * dotenv: single quotes are literal in the common parsers (dotenv, python-dotenv, docker compose);
 * a value holding a single quote or a newline falls back to double quotes with backslash escapes.
 */
export function dotenvQuote(value: string): string {
  if (!/['\n\r]/.test(value)) return `'${value}'`;
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\$/g, '\\$')}"`;
}

/** Names sorted so the output is stable. */
export function formatEnv(env: Readonly<Record<string, string>>, format: EnvFormat): string {
  const names = Object.keys(env).sort();
  for (const name of names) checkName(name);
  switch (format) {
    case 'json': {
      const sorted: Record<string, string> = {};
      for (const name of names) sorted[name] = env[name]!;
      return `${JSON.stringify(sorted, null, 2)}\n`;
    }
    case 'dotenv':
      return names.map((name) => `${name}=${dotenvQuote(env[name]!)}\n`).join('');
    case 'shell':
      return names.map((name) => `export ${name}=${shellQuote(env[name]!)}\n`).join('');
  }
}
