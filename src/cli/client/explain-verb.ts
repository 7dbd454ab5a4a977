import { readFileSync } from 'node:fs';
import type { SimulatedAlert } from '../../engine/alert-simulator.js';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';
import { printJson, type VerbContext } from './verb-context.js';

/**
 * `remediator explain -f notification.json` (viewer): what the webhook would decide for the
 * notification now, from `POST /api/v1/alerts/simulate`; nothing is written. The file is an
 * Alertmanager body, or a capture that holds one under `body`.
 */
export async function explainVerb(ctx: VerbContext, opts: { file: string }): Promise<ExitCode> {
  let body: unknown;
  try {
    body = JSON.parse(readFileSync(opts.file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`-f ${opts.file}: ${code ? `cannot read it (${code})` : 'not JSON'}`, EXIT.usage);
  }
  if (isRecord(body) && !('alerts' in body) && isRecord(body.body)) body = body.body;
  const result = await ctx.client.post<{ received: number; decisions: SimulatedAlert[] }>('api/v1/alerts/simulate', body);
  if (ctx.output === 'json') {
    printJson(ctx, result);
    return EXIT.ok;
  }
  for (const d of result.decisions) ctx.out.out(describe(d));
  return EXIT.ok;
}

function describe(d: SimulatedAlert): string {
  const lines = [`alert ${d.alertname || '(no alertname)'} ${d.fingerprint}: ${d.decision}${d.rule ? ` by rule ${d.rule}` : ''}${d.reason ? ` — ${d.reason}` : ''}`];
  for (const r of d.rules) lines.push(`  rule ${r.rule}: ${r.matched ? 'matches' : `no match (${r.failed})`}`);
  for (const o of d.outcomes) {
    if (o.target) lines.push(`  ${o.rule}: ${o.playbook} on ${o.target}${o.dryRun ? ' (dry run)' : ''}, approval ${o.approval}, params ${JSON.stringify(o.params)}`);
    if (o.precheck) lines.push(`    precheck: ${o.precheck}`);
    if (o.verifyQuery) lines.push(`    verify:   ${o.verifyQuery}`);
    for (const g of o.guards) lines.push(`    ${g.guard.padEnd(15)} ${g.verdict}${g.detail ? `: ${g.detail}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
