/**
 * Errors say whether a retry can help. The queue retries `retryable` errors with backoff and
 * fails a run at once on the others.
 */
export abstract class RemediatorError extends Error {
  abstract readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Transient: conflicts, throttling, server errors, timeouts, Redis hiccups. */
export class RetryableError extends RemediatorError {
  readonly retryable = true;
}

/** Permanent: bad input, forbidden, target gone, validation. Retrying cannot help. */
export class PermanentError extends RemediatorError {
  readonly retryable = false;
}

/** A Kubernetes API answer other than 2xx, already decoded from its `Status` body. */
export class KubeApiError extends RemediatorError {
  readonly retryable: boolean;
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly verb: string,
    readonly resource: string,
    /** The server's `Retry-After` (429, 503), capped: the next attempt waits at least this long. */
    readonly retryAfterMs?: number,
    /** The Status' `details.causes` (an eviction's 429 names the disruption budget that refused it). */
    readonly causes: readonly { reason?: string; message?: string }[] = [],
  ) {
    super(`${verb} ${resource}: ${code} ${reason}: ${message}`);
    this.retryable = code === 409 || code === 429 || code >= 500 || code === 0;
  }
}

/** Raised inside a run when a guard re-checked before the first mutation says no. */
export class GuardBlockedError extends RemediatorError {
  readonly retryable = false;
  constructor(
    readonly guard: GuardName,
    readonly detail: string,
  ) {
    super(`blocked by guard ${guard}: ${detail}`);
  }
}

/** Raised inside a run when it was cancelled (operator, or its alert resolved) before acting. */
export class RunCancelledError extends RemediatorError {
  readonly retryable = false;
  constructor(readonly detail: string) {
    super(`cancelled: ${detail}`);
  }
}

/** Raised inside a run when a precondition no longer holds (a precheck): the run ends `skipped`. */
export class RunSkippedError extends RemediatorError {
  readonly retryable = false;
}

/** Invalid input from a client or config: carries every problem with its path. */
export class ValidationError extends RemediatorError {
  readonly retryable = false;
  constructor(
    message: string,
    readonly details: { path: string; message: string }[],
  ) {
    super(message);
  }
}

export const GUARD_NAMES = [
  'cooldown',
  'rate_limit',
  'max_concurrent',
  'node_budget',
  'namespace',
  'opt_out',
  'paused',
  'target_locked',
  'escalated',
] as const;
export type GuardName = (typeof GUARD_NAMES)[number];

/** The thing asked about does not exist (HTTP 404). */
export class NotFoundError extends PermanentError {}

/** The caller may not do this (HTTP 403), e.g. approving their own manual run. */
export class ForbiddenError extends PermanentError {}

/** The request conflicts with the current state (HTTP 409): a guard said no, or the run moved on. */
export class ConflictError extends PermanentError {
  constructor(
    message: string,
    readonly code: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** A run's record vanished from Redis under a running attempt (a wipe): the attempt stops, nothing is recreated. */
export class RunRecordGoneError extends PermanentError {}

/** Fewer replicas than `redis.minReplicasAcked` confirmed a write in time: answer 503, the sender retries. */
export class ReplicaAckError extends RetryableError {}
