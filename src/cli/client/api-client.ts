import { CliError, EXIT, exitCodeForStatus } from './exit-codes.js';

/** The error body every API error has (docs/http-api.md). */
export interface ApiErrorBody {
  error: string;
  message: string;
  details?: { path: string; message: string }[];
  [key: string]: unknown;
}

/** The server answered with an error status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message);
    this.name = 'ApiError';
  }

  get exitCode(): number {
    return exitCodeForStatus(this.status);
  }
}

export interface ApiClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8080 (a path prefix is kept). */
  url: string;
  /** Bearer token; never printed. */
  token?: string;
  /** Per request (default 15 s). */
  timeoutMs?: number;
  userAgent?: string;
  /** Injected in tests; default the global fetch. */
  fetch?: typeof fetch;
}

export type Query = Record<string, string | number | boolean | undefined>;

/** The URL as safe to print: no user info, no query. */
export function displayUrl(url: URL | string): string {
  try {
    const u = new URL(String(url));
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(invalid URL)';
  }
}

/** Checks --url / REMEDIATOR_URL; a bad one is a usage error. */
export function parseBaseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(`invalid server URL "${text}" (expected e.g. http://127.0.0.1:8080)`, EXIT.usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`invalid server URL "${displayUrl(url)}": only http and https`, EXIT.usage);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/**
 * A small JSON client for the Remediator HTTP API (global fetch, a timeout per request). Errors:
 * ApiError for an error status with a JSON body; CliError with exit code 4 when the server is
 * unreachable, times out or does not answer JSON.
 */
export class ApiClient {
  readonly baseUrl: URL;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly options: ApiClientOptions) {
    this.baseUrl = parseBaseUrl(options.url);
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.fetchFn = options.fetch ?? globalThis.fetch;
  }

  get<T>(path: string, query: Query = {}): Promise<T> {
    return this.request<T>('GET', path, undefined, query);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  /** `path` is relative to the base URL, e.g. `api/v1/runs`. */
  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown, query: Query = {}): Promise<T> {
    const url = new URL(path.replace(/^\//, ''), this.baseUrl);
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (this.options.userAgent) headers['user-agent'] = this.options.userAgent;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const where = displayUrl(this.baseUrl);
    let res: Response;
    let text: string;
    try {
      res = await this.fetchFn(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'manual',
      });
      text = await res.text();
    } catch (err) {
      throw new CliError(`cannot reach the Remediator API at ${where}: ${describeFetchError(err, this.timeoutMs)}`, EXIT.unavailable, [
        'check --url / REMEDIATOR_URL and that the server is running',
      ]);
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.ok && parsed !== undefined) return parsed as T;
    if (res.status >= 400 && isErrorBody(parsed)) throw new ApiError(res.status, parsed);
    if (res.status >= 400 && res.status < 500) {
      // An error without our error body (a proxy, a route this server version lacks): still the status's code.
      throw new ApiError(res.status, { error: `http_${res.status}`, message: `${method} ${url.pathname} answered ${res.status} ${res.statusText}`.trim() });
    }
    throw new CliError(`${where} answered ${method} ${url.pathname} with ${res.status} ${res.statusText}${parsed === undefined ? ' (not JSON)' : ''}`.trim(), EXIT.unavailable, snippet(text));
  }
}

function isErrorBody(value: unknown): value is ApiErrorBody {
  return typeof value === 'object' && value !== null && typeof (value as ApiErrorBody).message === 'string' && typeof (value as ApiErrorBody).error === 'string';
}

function snippet(text: string): string[] {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line === '') return [];
  return [line.length > 200 ? `${line.slice(0, 200)}…` : line];
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${Math.round(timeoutMs / 1000)}s`;
  const cause = e?.cause;
  if (cause?.message) return cause.message;
  if (cause?.code) return cause.code;
  return e?.message ?? String(err);
}
