import type { ApiErrorBody } from './types.js';

/**
 * A failed API call. `statusCode` is the HTTP status, or 0 when the server could not be reached.
 * The message is the server's (which never contains secret values) or a transport description.
 */
export class VeilApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly error?: string,
  ) {
    super(message);
    this.name = 'VeilApiError';
  }
}

export interface ClientOptions {
  /** Base URL of the control plane, e.g. http://127.0.0.1:8080 */
  apiUrl: string;
  apiKey: string;
  /** Sent as X-Daytona-Organization-ID, for Daytona compatibility (Veil keys already imply an org). */
  organizationId?: string;
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number;
}

type Query = Record<string, string | number | undefined>;

/** Thin JSON-over-fetch transport shared by the services. */
export class HttpClient {
  private readonly base: string;

  constructor(private readonly options: ClientOptions) {
    if (!options.apiUrl) throw new TypeError('apiUrl is required');
    if (!options.apiKey) throw new TypeError('apiKey is required');
    this.base = options.apiUrl.replace(/\/+$/, '');
  }

  async request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const url = new URL(this.base + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.apiKey}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.organizationId) headers['x-daytona-organization-id'] = this.options.organizationId;

    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      throw new VeilApiError(0, `cannot reach the Veil API at ${this.base}: ${describeTransportError(error)}`);
    }
    const text = await response.text();
    if (!response.ok) throw errorFromResponse(response, text);
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new VeilApiError(response.status, `unexpected non-JSON reply from ${method} ${path}`);
    }
  }
}

function describeTransportError(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return 'request timed out';
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? error.message;
  }
  return String(error);
}

function errorFromResponse(response: Response, text: string): VeilApiError {
  try {
    const body = JSON.parse(text) as Partial<ApiErrorBody>;
    if (typeof body.message === 'string') return new VeilApiError(response.status, body.message, body.error);
  } catch {
    // not JSON: fall through
  }
  const snippet = text.trim().slice(0, 200);
  return new VeilApiError(response.status, `HTTP ${response.status} ${response.statusText}${snippet ? `: ${snippet}` : ''}`);
}

export const encodeSegment = (segment: string): string => encodeURIComponent(segment);
