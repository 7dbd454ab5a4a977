/**
 * When each part of a graceful shutdown must be done, so the process exits within
 * `server.shutdownGraceSeconds` (at least 1 s: closing connections takes a moment even with 0).
 *
 * - until `abortAt`: running steps and in-flight requests may finish;
 * - `abortAt`: steps still running are aborted (their jobs are retried elsewhere and resume);
 * - `closedBy`: workers closed (else their connections are cut), requests answered (else dropped);
 * - `quitBy`: queues, the sealer and the HTTP server closed;
 * - `deadline`: Redis connections quit (else disconnected); the process exits, leaving
 *   EXIT_MARGIN_MS to flush the log before `exitBy` (where `serve` exits regardless).
 *
 * The three closing phases each get a tenth of the budget, at most a second: a Redis that is
 * down makes each of them wait for its bound, one that is up takes milliseconds.
 */
export interface ShutdownPlan {
  startedAt: number;
  abortAt: number;
  closedBy: number;
  quitBy: number;
  deadline: number;
}

export const MIN_SHUTDOWN_MS = 1000;
export const EXIT_MARGIN_MS = 100;

/** How long a shutdown may take in all: the grace period, at least MIN_SHUTDOWN_MS. */
export function shutdownBudgetMs(graceMs: number): number {
  return Math.max(graceMs, MIN_SHUTDOWN_MS);
}

export function shutdownPlan(graceMs: number, now: number): ShutdownPlan {
  const total = shutdownBudgetMs(graceMs);
  const phase = Math.min(1000, Math.floor(total / 10));
  const deadline = now + total - EXIT_MARGIN_MS;
  return { startedAt: now, abortAt: deadline - 3 * phase, closedBy: deadline - 2 * phase, quitBy: deadline - phase, deadline };
}

/** Waits for `work`, but not past `deadline` (epoch ms); what is still pending is left behind. */
export async function withinDeadline(work: Promise<unknown> | undefined, deadline: number): Promise<void> {
  if (work === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))));
  try {
    await Promise.race([work.then(() => undefined, () => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}
