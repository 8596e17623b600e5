/** Human tables and machine JSON. */

export function printJson(out: NodeJS.WritableStream, value: unknown): void {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Left-aligned columns separated by two spaces; an empty list prints a note instead. */
export function printTable(out: NodeJS.WritableStream, headers: string[], rows: string[][], empty = '(none)'): void {
  if (rows.length === 0) {
    out.write(`${empty}\n`);
    return;
  }
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  out.write(`${[line(headers), ...rows.map(line)].join('\n')}\n`);
}

/** `key: value` lines with aligned values. */
export function printFields(out: NodeJS.WritableStream, fields: [string, string][]): void {
  const width = Math.max(...fields.map(([key]) => key.length)) + 1;
  out.write(`${fields.map(([key, value]) => `${`${key}:`.padEnd(width)} ${value}`).join('\n')}\n`);
}

export const orDash = (value: string | null | undefined): string => (value === null || value === undefined || value === '' ? '-' : value);
export const listOrDash = (values: readonly string[] | undefined): string => (values && values.length > 0 ? values.join(',') : '-');
