import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { RemediatorError } from '../domain/errors.js';

/**
 * Where a monitoring API lives and how to reach it (`prometheus:` and `alertmanager:` in the
 * config). Secrets are file paths, read at every request so a rotated token is picked up.
 */
export interface HttpEndpointConfig {
  url: string;
  bearerTokenFile?: string;
  basicAuth?: { username: string; passwordFile: string };
  timeoutSeconds: number;
  /** Retries after the first attempt, for transport errors, timeouts, 429 and 5xx. */
  retries: number;
  tls?: { caFile?: string; certFile?: string; keyFile?: string; insecureSkipVerify: boolean };
}

/**
 * A call to Prometheus or Alertmanager that did not give a usable answer. The message says which
 * service, which request and what went wrong, and never carries a credential.
 */
export class ExternalServiceError extends RemediatorError {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** HTTP status, when the server answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface EndpointRequest {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  /** Query parameters; a repeated key (Alertmanager's `filter`) is an array. */
  query?: Record<string, string | string[]>;
  json?: unknown;
  form?: Record<string, string>;
}

/** Backoff before retry n (1-based): 250 ms, 500 ms, 1 s, …; a Retry-After is honoured up to this cap. */
const BACKOFF_MS = 250;
const MAX_RETRY_AFTER_MS = 5000;

/**
 * One monitoring API over axios: timeouts, bounded retries, bearer or basic auth from files, TLS
 * options, and the proxies axios takes from the environment (`HTTP_PROXY`, `HTTPS_PROXY`,
 * `NO_PROXY`). Errors are ExternalServiceError; axios's own errors (whose config holds the
 * Authorization header) never leave this class, so no log line can carry a secret.
 */
export class HttpEndpoint {
  private readonly http: AxiosInstance;
  /** The URL as shown in messages: without user info. */
  readonly displayUrl: string;

  constructor(
    readonly service: string,
    private readonly config: HttpEndpointConfig,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {
    const base = new URL(config.url);
    base.username = '';
    base.password = '';
    this.displayUrl = base.toString().replace(/\/$/, '');
    const tls = config.tls;
    this.http = axios.create({
      baseURL: config.url.replace(/\/$/, ''),
      timeout: config.timeoutSeconds * 1000,
      validateStatus: () => true,
      // Bodies are parsed below, so a non-JSON error page yields a message, not an exception.
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      maxRedirects: 0,
      ...(tls
        ? {
            httpsAgent: new HttpsAgent({
              rejectUnauthorized: !tls.insecureSkipVerify,
              ...(tls.caFile ? { ca: readFileSync(tls.caFile) } : {}),
              ...(tls.certFile ? { cert: readFileSync(tls.certFile) } : {}),
              ...(tls.keyFile ? { key: readFileSync(tls.keyFile) } : {}),
            }),
          }
        : {}),
    });
  }

  /** Sends the request (retrying what a retry can fix) and returns the parsed JSON body of a 2xx. */
  async request<T>(req: EndpointRequest, signal?: AbortSignal): Promise<T> {
    const what = `${this.service} ${req.method} ${this.displayUrl}${req.path}`;
    const attempts = this.config.retries + 1;
    let last: ExternalServiceError | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (signal?.aborted) throw new ExternalServiceError(`${what}: aborted`, true);
      let response: AxiosResponse<string>;
      try {
        response = await this.http.request<string>({
          method: req.method,
          url: req.path,
          headers: this.headers(req),
          ...(req.query ? { params: toSearchParams(req.query) } : {}),
          ...(req.json !== undefined ? { data: JSON.stringify(req.json) } : {}),
          ...(req.form ? { data: new URLSearchParams(req.form).toString() } : {}),
          ...(signal ? { signal } : {}),
        });
      } catch (err) {
        if (err instanceof ExternalServiceError) throw err;
        last = new ExternalServiceError(`${what}: ${transportProblem(err, this.config.timeoutSeconds)}`, true);
        if (attempt < attempts) await this.sleep(BACKOFF_MS * 2 ** (attempt - 1));
        continue;
      }
      const status = response.status;
      if (status >= 200 && status < 300) {
        try {
          return (response.data === '' ? undefined : JSON.parse(response.data)) as T;
        } catch {
          throw new ExternalServiceError(`${what}: ${status} with a body that is not JSON`, false, status);
        }
      }
      const retryable = status === 429 || status >= 500;
      last = new ExternalServiceError(`${what}: ${status} ${response.statusText || ''}`.trimEnd() + bodyProblem(response.data), retryable, status);
      if (!retryable) throw last;
      if (attempt < attempts) await this.sleep(retryDelay(response.headers['retry-after'], attempt));
    }
    throw new ExternalServiceError(`${last!.message} (gave up after ${attempts} attempts)`, true, last!.status);
  }

  private headers(req: EndpointRequest): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (req.json !== undefined) headers['content-type'] = 'application/json';
    if (req.form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const { bearerTokenFile, basicAuth } = this.config;
    if (bearerTokenFile) headers.authorization = `Bearer ${this.secret(bearerTokenFile, 'bearerTokenFile')}`;
    else if (basicAuth) {
      const pair = `${basicAuth.username}:${this.secret(basicAuth.passwordFile, 'basicAuth.passwordFile')}`;
      headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
    }
    return headers;
  }

  private secret(path: string, key: string): string {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch (err) {
      throw new ExternalServiceError(`${this.service}: cannot read ${key} ${path} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`, false);
    }
  }
}

function toSearchParams(query: Record<string, string | string[]>): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) for (const v of Array.isArray(value) ? value : [value]) params.append(key, v);
  return params;
}

function retryDelay(retryAfter: unknown, attempt: number): number {
  const seconds = typeof retryAfter === 'string' && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : undefined;
  if (seconds !== undefined) return Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
  return BACKOFF_MS * 2 ** (attempt - 1);
}

/** Prometheus and Alertmanager both say what was wrong in `error` (or the body is short text). */
function bodyProblem(body: string): string {
  if (!body) return '';
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown };
    const text = typeof parsed.error === 'string' ? parsed.error : typeof parsed.message === 'string' ? parsed.message : undefined;
    if (text) return `: ${text.slice(0, 300)}`;
  } catch {
    // not JSON: fall through to the text itself
  }
  return `: ${body.trim().slice(0, 200)}`;
}

function transportProblem(err: unknown, timeoutSeconds: number): string {
  const e = err as { code?: string; message?: string };
  if (e.code === 'ECONNABORTED' || e.code === 'ETIMEDOUT' || /timeout/i.test(e.message ?? '')) return `no answer within ${timeoutSeconds}s`;
  if (e.code === 'ERR_CANCELED') return 'aborted';
  if (e.code) return `unreachable (${e.code})`;
  return `unreachable (${(e.message ?? 'unknown error').slice(0, 200)})`;
}
