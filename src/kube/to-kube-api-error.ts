import { STATUS_CODES } from 'node:http';
import * as k8s from '@kubernetes/client-node';
import { KubeApiError, PermanentError, type RemediatorError } from '../domain/errors.js';

/** Error codes of a request that never got an HTTP answer; a later attempt may well succeed. */
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ESOCKETTIMEDOUT',
]);

interface StatusBody {
  reason?: unknown;
  message?: unknown;
  details?: { retryAfterSeconds?: unknown; causes?: unknown };
}

function causesOf(status: StatusBody | undefined): { reason?: string; message?: string }[] {
  const causes = status?.details?.causes;
  if (!Array.isArray(causes)) return [];
  return causes.slice(0, 10).flatMap((c: unknown) => {
    if (c === null || typeof c !== 'object') return [];
    const { reason, message } = c as { reason?: unknown; message?: unknown };
    return [{ ...(typeof reason === 'string' ? { reason: reason.slice(0, 100) } : {}), ...(typeof message === 'string' ? { message: message.slice(0, 500) } : {}) }];
  });
}

/** A Retry-After longer than this is taken as this: a run waits, it does not wait forever. */
export const MAX_RETRY_AFTER_MS = 60_000;

/** The server's Retry-After, from the header (seconds or an HTTP date) or the Status' `details.retryAfterSeconds`. */
function retryAfterMs(headers: Record<string, string> | undefined, status: StatusBody | undefined): number | undefined {
  const header = Object.entries(headers ?? {}).find(([k]) => k.toLowerCase() === 'retry-after')?.[1];
  let ms: number | undefined;
  if (header !== undefined && /^\s*\d+\s*$/.test(header)) ms = Number(header) * 1000;
  else if (header !== undefined && !Number.isNaN(Date.parse(header))) ms = Math.max(0, Date.parse(header) - Date.now());
  const seconds = status?.details?.retryAfterSeconds;
  if (ms === undefined && typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0) ms = seconds * 1000;
  return ms === undefined ? undefined : Math.min(ms, MAX_RETRY_AFTER_MS);
}

function bodyText(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return body;
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  try {
    return JSON.stringify(body);
  } catch {
    return String(body);
  }
}

function parseStatus(body: unknown): StatusBody | undefined {
  if (body !== null && typeof body === 'object' && !Buffer.isBuffer(body)) return body as StatusBody;
  const text = bodyText(body);
  if (!text) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' ? (parsed as StatusBody) : undefined;
  } catch {
    return undefined;
  }
}

/** The HTTP status text in Kubernetes' CamelCase reason style (409 → `Conflict`). */
function reasonFromCode(code: number): string {
  const text = STATUS_CODES[code];
  return text ? text.replace(/[^A-Za-z]/g, '') : 'Unknown';
}

export function isNetworkError(err: unknown): boolean {
  if (err instanceof k8s.FetchError) return true;
  let current: unknown = err;
  // node-fetch wraps the socket error; undici-style errors nest it under `cause`.
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_ERROR_CODES.has(code) || code.startsWith('UND_ERR_'))) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Turns whatever a client-node call threw into a domain error. An API answer keeps its HTTP
 * code (so 409/429/5xx stay retryable); a request that never got an answer becomes code 0
 * (retryable); anything else is a local fault (bad kubeconfig, TLS setup) and permanent.
 */
export function toKubeApiError(err: unknown, verb: string, resource: string): RemediatorError {
  if (err instanceof KubeApiError || err instanceof PermanentError) return err;
  if (err instanceof k8s.ApiException) {
    const code = err.code;
    const status = parseStatus(err.body);
    const reason = typeof status?.reason === 'string' && status.reason ? status.reason : reasonFromCode(code);
    let message = typeof status?.message === 'string' ? status.message : bodyText(err.body);
    if (!message) message = code === 401 ? 'the API server rejected the credentials' : reasonFromCode(code);
    return new KubeApiError(code, reason, message.slice(0, 1000), verb, resource, retryAfterMs(err.headers, status), causesOf(status));
  }
  if (isNetworkError(err)) {
    const message = err instanceof Error ? err.message : String(err);
    return new KubeApiError(0, 'NetworkError', message, verb, resource);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new PermanentError(`${verb} ${resource}: ${message}`, { cause: err });
}
