/**
 * Reading a secret value for `veil secrets create/update`. Values never come from argv (visible in
 * `ps` and shell history): only from a file or stdin. Exactly one trailing newline ("\n" or
 * "\r\n") is stripped, so `echo "$KEY" | veil secrets create x` and editor-saved files store the
 * key itself; a value that must end in a newline needs one extra.
 */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../config/index.js';

/** Upper bound on a value read from stdin or a file, so a wrong file cannot exhaust memory. */
export const MAX_VALUE_BYTES = 1024 * 1024;

export function stripOneTrailingNewline(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}

async function readStream(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    total += buffer.length;
    if (total > MAX_VALUE_BYTES) throw new UsageError(`the value is larger than ${MAX_VALUE_BYTES} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

export interface ValueSource {
  /** `--value-file` argument: a path, or `-` for stdin. */
  valueFile?: string | undefined;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** When true and no --value-file: read stdin if it is not a terminal (create). */
  stdinByDefault: boolean;
  /** With stdinByDefault on a terminal: ask for the value here without echoing it. */
  prompt?: { label: string; output: NodeJS.WritableStream } | undefined;
}

/** Reads one line from a terminal in raw mode, echoing nothing. Ctrl-C cancels, Ctrl-D/Enter ends. */
async function readHiddenLine(stdin: NodeJS.ReadStream, output: NodeJS.WritableStream, label: string): Promise<Buffer> {
  // Echo off before the prompt appears: a fast typist (or a script answering the prompt) must never
  // have keystrokes echoed by the terminal in the gap between the label and raw mode.
  stdin.setRawMode(true);
  output.write(label);
  stdin.resume();
  const bytes: number[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        for (const byte of chunk) {
          if (byte === 0x03) return finish(new UsageError('cancelled'));
          if (byte === 0x0d || byte === 0x0a || byte === 0x04) return finish();
          if (byte === 0x7f || byte === 0x08) bytes.pop();
          else bytes.push(byte);
          if (bytes.length > MAX_VALUE_BYTES) return finish(new UsageError(`the value is larger than ${MAX_VALUE_BYTES} bytes`));
        }
      };
      const finish = (error?: Error) => {
        stdin.off('data', onData);
        if (error) reject(error);
        else resolve();
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    output.write('\n');
  }
  return Buffer.from(bytes);
}

/** The value, or undefined when none was asked for. Errors never include the content. */
export async function readSecretValue(source: ValueSource): Promise<string | undefined> {
  let raw: Buffer;
  let origin: string;
  if (source.valueFile !== undefined && source.valueFile !== '-') {
    origin = `--value-file ${JSON.stringify(source.valueFile)}`;
    try {
      raw = await readFile(source.valueFile);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      throw new UsageError(`${origin}: cannot read the file (${code})`);
    }
    if (raw.length > MAX_VALUE_BYTES) throw new UsageError(`${origin}: the value is larger than ${MAX_VALUE_BYTES} bytes`);
  } else if (source.valueFile === '-' || (source.stdinByDefault && !source.stdin.isTTY)) {
    origin = 'stdin';
    raw = await readStream(source.stdin);
  } else if (source.stdinByDefault && source.prompt && 'setRawMode' in source.stdin) {
    origin = 'the prompt';
    raw = await readHiddenLine(source.stdin as NodeJS.ReadStream, source.prompt.output, source.prompt.label);
  } else {
    return undefined;
  }
  const text = raw.toString('utf8');
  // Lossy decoding would silently store a different value than the file holds.
  if (!raw.equals(Buffer.from(text, 'utf8'))) throw new UsageError(`${origin}: the value is not valid UTF-8`);
  const value = stripOneTrailingNewline(text);
  if (value === '') throw new UsageError(`${origin}: the value is empty`);
  return value;
}
