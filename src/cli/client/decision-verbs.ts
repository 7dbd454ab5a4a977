import type { RunStatus } from '../../domain/run.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { shortId } from './format-run.js';
import { resolveRunId } from './resolve-run-id.js';
import { printJson, type VerbContext } from './verb-context.js';

export type Decision = 'approve' | 'reject' | 'cancel';

const DONE: Record<Decision, string> = { approve: 'approved', reject: 'rejected', cancel: 'cancelled' };

/** `remediator approve|reject|cancel ID --reason TEXT`: POST /api/v1/runs/{id}/{decision}. */
export async function decisionVerb(ctx: VerbContext, decision: Decision, idOrPrefix: string, reason: string): Promise<ExitCode> {
  const id = await resolveRunId(ctx.client, idOrPrefix);
  const result = await ctx.client.post<{ id: string; status: RunStatus }>(`api/v1/runs/${encodeURIComponent(id)}/${decision}`, { reason });
  if (ctx.output === 'json') {
    printJson(ctx, result);
    return EXIT.ok;
  }
  if (decision === 'cancel' && result.status === 'running') {
    ctx.out.out(`run ${result.id} cancel requested: it is running and stops before its next change\n`);
    ctx.out.err(`check: remediator runs show ${shortId(result.id)}\n`);
  } else {
    ctx.out.out(`run ${result.id} ${DONE[decision]}${result.status !== DONE[decision] ? `; now ${result.status}` : ''}\n`);
  }
  return EXIT.ok;
}
