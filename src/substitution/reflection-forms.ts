/**
 * Spellings an upstream may use to echo a value back that are not the usual escapes (issue 12,
 * "Reflection encodings"): a hostile or careless server hex-dumps it, percent-encodes every byte
 * (once or twice), JSON-escapes every char, or writes it as HTML entities. Each form comes as a
 * [needle, replacement] pair whose replacement is the placeholder written the same way, so the
 * echo still decodes to the placeholder. Pure; scrub.ts turns the pairs into needles.
 *
 * Hex digits appear in both cases (a form per case, never mixed within one echo: every encoder
 * we know writes one case).
 */

export type FormPair = [needle: string, replacement: string];

const hex2 = (byte: number) => byte.toString(16).padStart(2, '0');

/** Every UTF-8 byte as two hex digits, and every byte as %XX and as %25XX (double encoding). */
function byteForms(value: string, placeholder: string): FormPair[] {
  const perByte = (text: string, write: (byte: number) => string) => [...Buffer.from(text, 'utf8')].map(write).join('');
  const pairs: FormPair[] = [];
  for (const upper of [false, true]) {
    const digits = (byte: number) => (upper ? hex2(byte).toUpperCase() : hex2(byte));
    for (const write of [digits, (byte: number) => `%${digits(byte)}`, (byte: number) => `%25${digits(byte)}`]) {
      pairs.push([perByte(value, write), perByte(placeholder, write)]);
    }
  }
  return pairs;
}

/** Every UTF-16 code unit as JSON `\uXXXX`, both hex cases. */
function jsonUnicodeForms(value: string, placeholder: string): FormPair[] {
  const write = (text: string, upper: boolean) => {
    let out = '';
    for (let i = 0; i < text.length; i++) {
      const digits = text.charCodeAt(i).toString(16).padStart(4, '0');
      out += `\\u${upper ? digits.toUpperCase() : digits}`;
    }
    return out;
  };
  return [false, true].map((upper) => [write(value, upper), write(placeholder, upper)]);
}

/** HTML character references for every code point: decimal `&#NN;`, hex `&#xNN;` in both cases. */
function numericEntityForms(value: string, placeholder: string): FormPair[] {
  const write = (text: string, entity: (codePoint: number) => string) => [...text].map((char) => entity(char.codePointAt(0)!)).join('');
  const entities = [(cp: number) => `&#${cp};`, (cp: number) => `&#x${cp.toString(16)};`, (cp: number) => `&#x${cp.toString(16).toUpperCase()};`];
  return entities.map((entity) => [write(value, entity), write(placeholder, entity)]);
}

/**
 * What HTML escapers write for a value with `& < > " '` in it (only those chars change; the
 * placeholder has none, so it is its own replacement). One table per family of escapers.
 */
const HTML_ESCAPERS: readonly Readonly<Record<string, string>>[] = [
  { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }, // escape-html, lodash, Ruby CGI
  { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;' }, // Python html.escape
  { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' }, // Go html.EscapeString, html/template
  { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }, // XML
  { '&': '&amp;', '<': '&lt;', '>': '&gt;' }, // text-node escaping (quotes kept)
];

function namedEntityForms(value: string, placeholder: string): FormPair[] {
  if (!/[&<>"']/.test(value)) return [];
  return HTML_ESCAPERS.map((table) => [value.replace(/[&<>"']/g, (char) => table[char] ?? char), placeholder]);
}

/** Every reflection form of `value` (duplicates and forms equal to the value included: the caller dedups). */
export function reflectionForms(value: string, placeholder: string): FormPair[] {
  return [...byteForms(value, placeholder), ...jsonUnicodeForms(value, placeholder), ...numericEntityForms(value, placeholder), ...namedEntityForms(value, placeholder)];
}

/** The double-encoded spelling (`%` itself written `%25`) of a percent-encoded form. */
export function doublePercent(form: string): string {
  return form.replace(/%/g, '%25');
}
