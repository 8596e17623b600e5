/**
 * The reflection encodings of issue 12, written the way echoing servers write them (independently
 * of src/substitution): for the scrubbing property tests and the e2e reflecting upstream.
 */
const bytesOf = (text: string) => [...Buffer.from(text, 'utf8')];
const hex = (byte: number) => byte.toString(16).padStart(2, '0');
const upper = (text: string) => text.toUpperCase();

/** name -> encoder, the way echoing servers write these forms. */
export const ENCODERS: Record<string, (value: string) => string> = {
  'hex lower': (v) => Buffer.from(v, 'utf8').toString('hex'),
  'hex upper': (v) => upper(Buffer.from(v, 'utf8').toString('hex')),
  'every byte %xx': (v) => bytesOf(v).map((b) => `%${hex(b)}`).join(''),
  'every byte %XX': (v) => bytesOf(v).map((b) => `%${upper(hex(b))}`).join(''),
  'double %25xx': (v) => bytesOf(v).map((b) => `%25${hex(b)}`).join(''),
  'double %25XX': (v) => bytesOf(v).map((b) => `%25${upper(hex(b))}`).join(''),
  'double encodeURIComponent': (v) => encodeURIComponent(encodeURIComponent(v)),
  'JSON \\uxxxx': (v) => [...Array(v.length).keys()].map((i) => `\\u${v.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
  'JSON \\uXXXX': (v) => [...Array(v.length).keys()].map((i) => `\\u${upper(v.charCodeAt(i).toString(16).padStart(4, '0'))}`).join(''),
  'HTML &#NN;': (v) => [...v].map((c) => `&#${c.codePointAt(0)};`).join(''),
  'HTML &#xnn;': (v) => [...v].map((c) => `&#x${c.codePointAt(0)!.toString(16)};`).join(''),
  'HTML &#xNN;': (v) => [...v].map((c) => `&#x${upper(c.codePointAt(0)!.toString(16))};`).join(''),
  'HTML named (escape-html)': (v) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;'),
  'HTML named (Python html.escape)': (v) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#x27;'),
  'HTML named (Go)': (v) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;'),
};

/** MIME base64 (RFC 2045): lines of 76 chars. */
export function mime(bytes: Buffer, eol: string): string {
  return (bytes.toString('base64').match(/.{1,76}/g) ?? []).join(eol);
}

