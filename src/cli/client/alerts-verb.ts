import { EXIT, type ExitCode } from './exit-codes.js';
import { formatAge, shortId } from './format-run.js';
import { renderTable } from './text-table.js';
import { printJson, type VerbContext } from './verb-context.js';

/** One episode of the alert inbox, as `GET /api/v1/alerts` returns it. */
export interface InboxItem {
  fingerprint: string;
  alertname: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  status: string;
  firstSeenAt: string;
  lastSeenAt: string;
  seen: number;
  rule: string | null;
  decision: string;
  runId?: string;
  guard?: string;
  reason?: string;
}

export interface AlertsOptions {
  decision?: string;
  alertname?: string;
  rule?: string;
  /** RFC 3339 or a duration back from now (24h). */
  since?: string;
  limit?: string;
  cursor?: string;
}

/** `remediator alerts`: the alert inbox, newest first — every alert seen, with its decision and why. */
export async function alertsVerb(ctx: VerbContext, opts: AlertsOptions): Promise<ExitCode> {
  const page = await ctx.client.get<{ items: InboxItem[]; nextCursor?: string | null }>('api/v1/alerts', {
    decision: opts.decision,
    alertname: opts.alertname,
    rule: opts.rule,
    since: opts.since,
    limit: opts.limit,
    cursor: opts.cursor,
  });
  if (ctx.output === 'json') {
    printJson(ctx, { items: page.items, nextCursor: page.nextCursor ?? null });
    return EXIT.ok;
  }
  if (page.items.length === 0) {
    ctx.out.out('No alerts seen.\n');
    return EXIT.ok;
  }
  const now = ctx.now();
  const rows = page.items.map((a) => [
    formatAge(a.lastSeenAt, now),
    a.alertname || '-',
    a.decision,
    a.rule ?? '-',
    String(a.seen),
    a.runId ? shortId(a.runId) : a.guard ? `guard ${a.guard}` : '-',
    a.reason ?? a.annotations?.summary ?? '',
  ]);
  ctx.out.out(renderTable(['LAST SEEN', 'ALERT', 'DECISION', 'RULE', 'SEEN', 'RUN', 'WHY'], rows, { maxWidths: [undefined, 32, undefined, 32, undefined, undefined, 90], ...(ctx.out.columns !== undefined ? { width: ctx.out.columns } : {}) }));
  if (page.nextCursor) ctx.out.err(`(more alerts: --cursor ${page.nextCursor})\n`);
  return EXIT.ok;
}
