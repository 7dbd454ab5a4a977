import { EXIT, type ExitCode } from './exit-codes.js';
import { printJson, type VerbContext } from './verb-context.js';

export interface PauseOptions {
  playbook?: string;
  reason: string;
}

/** `remediator pause|resume [--playbook NAME] --reason TEXT` (admin): POST /api/v1/pause|resume. */
export async function pauseVerb(ctx: VerbContext, action: 'pause' | 'resume', opts: PauseOptions): Promise<ExitCode> {
  const result = await ctx.client.post<{ paused: string[] }>(`api/v1/${action}`, { reason: opts.reason, ...(opts.playbook ? { playbook: opts.playbook } : {}) });
  if (ctx.output === 'json') {
    printJson(ctx, result);
    return EXIT.ok;
  }
  const scope = opts.playbook ? `playbook ${opts.playbook}` : 'all automation';
  ctx.out.out(`${action === 'pause' ? 'paused' : 'resumed'} ${scope}\n`);
  ctx.out.out(result.paused.length > 0 ? `paused now: ${result.paused.join(', ')}\n` : 'nothing is paused now\n');
  return EXIT.ok;
}
