import { isTerminal, type Run } from '../../domain/run.js';
import { ApiError, type ApiClient } from './api-client.js';
import { CliError, EXIT } from './exit-codes.js';
import { formatChange, formatSpan, runReason, shortId } from './format-run.js';
import type { Output } from './output.js';

export interface WaitOptions {
  timeoutMs: number;
  /** Default: 300 ms, growing to 2 s. */
  intervalMs?: (poll: number) => number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface WaitResult {
  run: Run;
  /** False when the wait timed out before the run finished. */
  finished: boolean;
}

const defaultInterval = (poll: number): number => Math.min(2000, 300 + 100 * poll);
const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Consecutive unreachable/5xx polls tolerated before giving up (a rolling restart of the API). */
const MAX_POLL_FAILURES = 5;

/**
 * Polls `GET /api/v1/runs/{id}` until the run is terminal or the timeout passes, writing each
 * status change and new step on stderr. Returns the last run seen.
 */
export async function waitForRun(client: ApiClient, id: string, out: Output, options: WaitOptions): Promise<WaitResult> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const interval = options.intervalMs ?? defaultInterval;
  const started = now();
  const deadline = started + options.timeoutMs;
  const stamp = (): string => `[${formatSpan(now() - started).padStart(4)}]`;
  let lastStatus: string | undefined;
  let stepsSeen = 0;
  let failures = 0;
  let last: Run | undefined;
  for (let poll = 0; ; poll++) {
    let run: Run | undefined;
    try {
      run = await client.get<Run>(`api/v1/runs/${encodeURIComponent(id)}`);
      failures = 0;
    } catch (err) {
      // Unreachable or 5xx while following: keep trying for a while; anything else is final.
      const transient = (err instanceof CliError && err.exitCode === EXIT.unavailable) || (err instanceof ApiError && err.status >= 500);
      if (!transient || ++failures >= MAX_POLL_FAILURES || now() >= deadline) throw err;
      out.err(`${stamp()} ${(err as Error).message}; retrying\n`);
    }
    if (run) {
      last = run;
      // A step is shown once its outcome is known (it is saved as `pending` before its request).
      const steps = run.steps ?? [];
      for (; stepsSeen < steps.length && (steps[stepsSeen]!.result !== 'pending' || isTerminal(run.status)); stepsSeen++) {
        const step = steps[stepsSeen]!;
        const change = formatChange(step.before, step.after);
        out.err(`${stamp()} step ${step.action} ${step.object}: ${step.result}${change ? ` (${change})` : ''}${step.detail ? ` — ${step.detail}` : ''}\n`);
      }
      if (run.status !== lastStatus) {
        lastStatus = run.status;
        const why = isTerminal(run.status) || run.status === 'awaiting_approval' ? runReason(run) : '';
        out.err(`${stamp()} ${run.status}${run.dryRun ? ' (dry run)' : ''}${why ? `: ${why}` : ''}\n`);
        if (run.status === 'awaiting_approval') out.err(`       another operator can run: remediator approve ${run.id} --reason TEXT\n`);
      }
      if (isTerminal(run.status)) return { run, finished: true };
    }
    if (now() >= deadline) {
      if (!last) throw new CliError(`could not read run ${id} before the wait timed out`, EXIT.unavailable);
      out.err(`${stamp()} still ${last.status} after ${formatSpan(options.timeoutMs)}; stopped waiting (the run goes on: remediator runs show ${shortId(last.id)})\n`);
      return { run: last, finished: false };
    }
    await sleep(Math.max(0, Math.min(interval(poll), deadline - now())));
  }
}
