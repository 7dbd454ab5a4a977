/**
 * Faults the sim decides when a request arrives, before it looks at it: the request is refused
 * (500, 503, 429 with or without Retry-After, 409, 504, ...), held without an answer, or served
 * late. Unlike SimFault (the write is applied, then its answer is lost), nothing a refused or hung
 * request asked for is ever applied: these are the answers of an overloaded or failing
 * kube-apiserver (max-in-flight / priority-and-fairness rejections, etcd errors, a lost race on
 * resourceVersion, a server that stopped answering).
 */
import { STATUS_CODES } from 'node:http';
import type { SimRequestRecord } from './sim-server.js';
import { failureStatus, internalErrorStatus, OPTIMISTIC_LOCK_MESSAGE, qualifiedResource, type GroupResource, type StatusBody } from './status.js';

/**
 * What happens to a request an early fault caught:
 * - a number: refused with that HTTP status and the Status body kube-apiserver writes for it
 *   (500 InternalError, 503 ServiceUnavailable, 429 TooManyRequests, 409 Conflict, 504 Timeout;
 *   other codes get a Status with the code's CamelCase reason);
 * - 'hang': no answer at all, the socket stays open until the client gives up or the sim closes;
 * - 'serve': served as usual (with `delayMs`: a slow answer). A served write may still meet a
 *   SimFault once applied.
 */
export type SimEarlyAnswer = number | 'hang' | 'serve';

/** How an early fault marked the request's record (`SimRequestRecord.fault`). */
export type SimEarlyEffect = 'refused' | 'hung' | 'delayed';

export interface SimEarlyFault {
  /** Tells an early fault from a SimFault (which hits after the request was applied). */
  stage: 'before-apply';
  /**
   * Picks the request; asked about every request (reads, watches and discovery included) once its
   * body was read and it was authenticated (`record.user` is set with RBAC on). `record.status` is 0.
   */
  match(record: SimRequestRecord): boolean;
  answer: SimEarlyAnswer;
  /**
   * Seconds for a 429, 503 or 504: put in `details.retryAfterSeconds` and the `Retry-After`
   * header, as the server does for any Status that carries it. Absent: neither is sent.
   */
  retryAfterSeconds?: number;
  /** The Status message (the part after "Internal error occurred: " for a 500); a default names the fault. */
  message?: string;
  /**
   * 429 only: answer `text/plain` "Too many requests, please try again later." as the
   * max-in-flight and priority-and-fairness filters do (http.Error), instead of a Status.
   */
  plainText?: boolean;
  /**
   * Waits this long before refusing or serving (ignored by 'hang'). A request whose client gave
   * up meanwhile is dropped unapplied, as the server does once the request's context is done.
   */
  delayMs?: number;
  /** How many matching requests to hit (default 1; `Infinity` = until clearFaults); removed after that. */
  times?: number;
}

/** A matcher on method and path, for SimFault and SimEarlyFault alike. */
export function requestMatcher(where: { method?: string | readonly string[]; path?: string | RegExp }): (record: SimRequestRecord) => boolean {
  const methods = where.method === undefined ? undefined : typeof where.method === 'string' ? [where.method] : where.method;
  return (record) => {
    if (methods && !methods.includes(record.method)) return false;
    if (where.path === undefined) return true;
    return typeof where.path === 'string' ? record.path === where.path : where.path.test(record.path);
  };
}

/** Group, resource and name of an API path, for the Status of a 409 (subresources name their parent). */
export interface PathTarget {
  gr: GroupResource;
  name?: string;
}

function reasonOf(code: number): string {
  return (STATUS_CODES[code] ?? 'Unknown').replace(/[^A-Za-z]/g, '');
}

/** The Status kube-apiserver writes for this refusal (k8s.io/apimachinery/pkg/api/errors). */
export function earlyFaultStatus(fault: SimEarlyFault & { answer: number }, record: SimRequestRecord, target: PathTarget | undefined): StatusBody {
  const code = fault.answer;
  const retry = fault.retryAfterSeconds !== undefined && fault.retryAfterSeconds > 0 ? { retryAfterSeconds: fault.retryAfterSeconds } : {};
  const what = `sim fault: ${record.method} ${record.path} refused before it was applied`;
  switch (code) {
    case 500: {
      // NewInternalError
      return internalErrorStatus(fault.message ?? what);
    }
    case 503:
      // NewServiceUnavailable (+ the retry hint the server adds while it is shutting down or overloaded)
      return failureStatus(503, 'ServiceUnavailable', fault.message ?? `${what}: the server is currently unable to handle the request`, retry);
    case 429:
      // NewTooManyRequests(message, retryAfterSeconds) / NewTooManyRequestsError(message)
      return failureStatus(429, 'TooManyRequests', fault.message ?? 'Too many requests, please try again later.', retry);
    case 504:
      // NewTimeoutError
      return failureStatus(504, 'Timeout', `Timeout: ${fault.message ?? `${what}: request did not complete within the allowed duration`}`, retry);
    case 409: {
      // NewConflict: what an update or a patch with a stale resourceVersion gets.
      const why = fault.message ?? OPTIMISTIC_LOCK_MESSAGE;
      if (!target?.name) return failureStatus(409, 'Conflict', `Operation cannot be fulfilled: ${why}`);
      return failureStatus(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(target.gr)} "${target.name}": ${why}`, {
        name: target.name,
        ...(target.gr.group ? { group: target.gr.group } : {}),
        kind: target.gr.resource,
      });
    }
    default:
      return failureStatus(code, reasonOf(code), fault.message ?? what, retry);
  }
}

/** The body max-in-flight / APF write with http.Error for a 429. */
export const PLAIN_TOO_MANY_REQUESTS = 'Too many requests, please try again later.\n';

export function checkEarlyFault(fault: SimEarlyFault): void {
  const { answer } = fault;
  if (typeof answer === 'number' && !(Number.isInteger(answer) && answer >= 400 && answer <= 599)) {
    throw new Error(`sim: an early fault refuses with a 4xx or 5xx status, got ${answer}`);
  }
  if (typeof answer !== 'number' && answer !== 'hang' && answer !== 'serve') throw new Error(`sim: unknown early fault answer ${String(answer)}`);
  if (fault.plainText && answer !== 429) throw new Error('sim: plainText is for 429 answers only');
  if (fault.delayMs !== undefined && !(fault.delayMs >= 0 && Number.isFinite(fault.delayMs))) throw new Error(`sim: delayMs must be a finite number >= 0, got ${fault.delayMs}`);
  if (fault.retryAfterSeconds !== undefined && !(Number.isInteger(fault.retryAfterSeconds) && fault.retryAfterSeconds >= 0)) {
    throw new Error(`sim: retryAfterSeconds must be a whole number of seconds, got ${fault.retryAfterSeconds}`);
  }
}
