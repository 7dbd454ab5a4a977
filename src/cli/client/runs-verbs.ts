import type { Run } from '../../domain/run.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { renderRunList } from './format-run.js';
import { resolveRunId } from './resolve-run-id.js';
import { printRun } from './run-verb.js';
import { printJson, type VerbContext } from './verb-context.js';

export interface RunsListOptions {
  /** One status or a comma-separated list. */
  status?: string;
  playbook?: string;
  rule?: string;
  target?: string;
  /** RFC 3339 or a duration back from now (24h). */
  since?: string;
  limit?: string;
  cursor?: string;
  /** Follow nextCursor to the end. */
  all?: boolean;
}

interface RunPage {
  items: Run[];
  nextCursor?: string | null;
}

/** `remediator runs [list]`: GET /api/v1/runs with its filters; newest first. */
export async function listRunsVerb(ctx: VerbContext, opts: RunsListOptions): Promise<ExitCode> {
  const query = {
    status: opts.status,
    playbook: opts.playbook,
    rule: opts.rule,
    target: opts.target,
    since: opts.since,
    limit: opts.limit ?? (opts.all ? '500' : undefined),
    cursor: opts.cursor,
  };
  let page = await ctx.client.get<RunPage>('api/v1/runs', query);
  const items = [...page.items];
  while (opts.all && page.nextCursor) {
    page = await ctx.client.get<RunPage>('api/v1/runs', { ...query, cursor: page.nextCursor });
    items.push(...page.items);
  }
  const nextCursor = page.nextCursor ?? null;
  if (ctx.output === 'json') {
    printJson(ctx, { items, nextCursor });
    return EXIT.ok;
  }
  ctx.out.out(renderRunList(items, ctx.now(), ctx.out.columns));
  if (nextCursor) ctx.out.err(`(more runs: add --all, or --cursor ${nextCursor})\n`);
  return EXIT.ok;
}

/** `remediator runs show ID`: the run with its trigger, guard, approval and steps. ID may be the 8-character short form. */
export async function showRunVerb(ctx: VerbContext, idOrPrefix: string): Promise<ExitCode> {
  const id = await resolveRunId(ctx.client, idOrPrefix);
  const run = await ctx.client.get<Run>(`api/v1/runs/${encodeURIComponent(id)}`);
  printRun(ctx, run);
  return EXIT.ok;
}
