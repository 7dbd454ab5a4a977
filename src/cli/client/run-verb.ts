import { parseDuration } from '../../domain/duration.js';
import type { Run, RunStatus } from '../../domain/run.js';
import { CliError, EXIT, exitCodeForRun, type ExitCode } from './exit-codes.js';
import { renderRunDetail, shortId } from './format-run.js';
import { parseParamPairs } from './parse-params.js';
import { printJson, type VerbContext } from './verb-context.js';
import { waitForRun, type WaitOptions } from './wait-for-run.js';

export interface RunVerbOptions {
  /** `key=value` pairs from -p. */
  param?: string[];
  reason: string;
  dryRun?: boolean;
  bypassGuards?: boolean;
  /** PromQL evaluated right before the first mutation (no placeholders). */
  precheck?: string;
  wait?: boolean;
  /** How long --wait waits (duration, default 10m). */
  timeout: string;
}

export function parseTimeout(text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new CliError(`--timeout: ${(err as Error).message}`, EXIT.usage);
  }
}

/**
 * `remediator run PLAYBOOK -p k=v ... --reason TEXT [--dry-run] [--bypass-guards] [--precheck PROMQL] [--wait]`:
 * POST /api/v1/runs; with --wait, follows the run and exits by where it ended.
 */
export async function runVerb(ctx: VerbContext, playbook: string, opts: RunVerbOptions, waitOptions: Partial<WaitOptions> = {}): Promise<ExitCode> {
  const params = parseParamPairs(opts.param ?? []);
  const timeoutMs = parseTimeout(opts.timeout);
  const body = {
    playbook,
    params,
    reason: opts.reason,
    ...(opts.dryRun ? { dryRun: true } : {}),
    ...(opts.bypassGuards ? { bypassGuards: true } : {}),
    ...(opts.precheck !== undefined ? { precheck: opts.precheck } : {}),
  };
  const created = await ctx.client.post<{ id: string; status: RunStatus }>('api/v1/runs', body);
  if (!opts.wait) {
    if (ctx.output === 'json') printJson(ctx, created);
    else {
      ctx.out.out(`run ${created.id} ${created.status}\n`);
      const next = created.status === 'awaiting_approval' ? `another operator approves it: remediator approve ${shortId(created.id)} --reason TEXT` : `follow it: remediator runs show ${shortId(created.id)}`;
      ctx.out.err(`${next}\n`);
    }
    return EXIT.ok;
  }
  ctx.out.err(`run ${created.id} created (${created.status}); waiting up to ${opts.timeout} — Ctrl-C stops the wait, not the run\n`);
  const { run, finished } = await waitForRun(ctx.client, created.id, ctx.out, { timeoutMs, now: ctx.now, ...waitOptions });
  printRun(ctx, run);
  return finished ? exitCodeForRun(run.status) : EXIT.pending;
}

export function printRun(ctx: VerbContext, run: Run): void {
  if (ctx.output === 'json') printJson(ctx, run);
  else ctx.out.out(renderRunDetail(run, ctx.now(), ctx.out.columns));
}
