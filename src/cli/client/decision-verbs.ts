import type { RunStatus } from '../../domain/run.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { shortId } from './format-run.js';
import { resolveRunId } from './resolve-run-id.js';
import { printJson, type VerbContext } from './verb-context.js';

export type Decision = 'approve' | 'reject' | 'cancel' | 'ack';

const DONE: Record<Exclude<Decision, 'ack'>, string> = { approve: 'approved', reject: 'rejected', cancel: 'cancelled' };

/** `remediator approve|reject|cancel|ack ID --reason TEXT`: POST /api/v1/runs/{id}/{decision}. */
export async function decisionVerb(ctx: VerbContext, decision: Decision, idOrPrefix: string, reason: string): Promise<ExitCode> {
  const id = await resolveRunId(ctx.client, idOrPrefix);
  const result = await ctx.client.post<{ id: string; status: RunStatus; target?: string; rule?: string }>(`api/v1/runs/${encodeURIComponent(id)}/${decision}`, { reason });
  if (ctx.output === 'json') {
    printJson(ctx, result);
    return EXIT.ok;
  }
  if (decision === 'ack') {
    ctx.out.out(`${result.target} released: rule ${result.rule} may act on it again (it was held after the escalation of run ${result.id})\n`);
  } else if (decision === 'cancel' && result.status === 'running') {
    ctx.out.out(`run ${result.id} cancel requested: it is running and stops before its next change\n`);
    ctx.out.err(`check: remediator runs show ${shortId(result.id)}\n`);
  } else {
    const done = DONE[decision as Exclude<Decision, 'ack'>];
    ctx.out.out(`run ${result.id} ${done}${result.status !== done ? `; now ${result.status}` : ''}\n`);
  }
  return EXIT.ok;
}
