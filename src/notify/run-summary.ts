import type { NotificationEvent } from '../engine/notification-sink.js';
import type { Run } from '../domain/run.js';

/** What every channel's message is made from: the event, the run as it is now, and its page. */
export interface NotificationInput {
  event: NotificationEvent;
  run: Run;
  /** What the event adds to the run record (an escalation's reason, a block's guard and detail). */
  detail?: string;
  /** The run's page: `${ui.externalUrl}/ui/#/runs/${id}`. */
  link: string;
}

export const EVENT_TITLES: Record<NotificationEvent, string> = {
  awaiting_approval: 'Awaiting approval',
  started: 'Started',
  succeeded: 'Succeeded',
  failed: 'Failed',
  blocked: 'Blocked',
  escalation: 'Escalation',
};

/** Params on one line: `replicas=5, namespace=prod` (non-strings as compact JSON). */
export function paramsSummary(params: Record<string, unknown>): string {
  const parts = Object.entries(params ?? {}).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

/** How many Kubernetes requests the run made and whether it changed anything. */
export function stepsSummary(run: Run): string {
  const steps = run.steps ?? [];
  if (steps.length === 0) return run.status === 'awaiting_approval' || run.status === 'queued' ? 'none yet' : 'no Kubernetes requests';
  const failed = steps.filter((s) => s.result === 'error').length;
  const count = `${steps.length} Kubernetes request${steps.length === 1 ? '' : 's'}${failed > 0 ? ` (${failed} failed)` : ''}`;
  if (run.dryRun) return `${count}, dry run: nothing changed`;
  return `${count}, ${run.changed ? 'changed the cluster' : 'nothing changed'}`;
}

/** Why the run exists: the rule and alert, the operator, or the escalated run. */
export function triggerSummary(run: Run): string {
  const t = run.trigger;
  if (t.source === 'alert') return `rule ${t.rule ?? '?'}${t.alert ? `, alert ${t.alert.alertname}` : ''}`;
  if (t.source === 'escalation') return `escalation${run.escalatedFrom ? ` of run ${run.escalatedFrom}` : ''}${t.rule ? `, rule ${t.rule}` : ''}`;
  return `manual, by ${t.operator ?? '?'}${t.reason ? `: ${t.reason}` : ''}`;
}

/**
 * Where the run stands, as labelled lines (label, text): the status and reason, a block's guard,
 * an approval's origin, the health check and verification, and the event's own detail.
 */
export function outcomeLines(input: NotificationInput): [label: string, text: string][] {
  const { run, event, detail } = input;
  const lines: [string, string][] = [];
  const status = `${run.status}${run.dryRun ? ' (dry run)' : ''}`;
  lines.push(['Outcome', run.reason ? `${status}: ${run.reason}` : status]);
  if (event === 'awaiting_approval' || run.status === 'awaiting_approval') {
    lines.push(['Approval', `required by ${run.approval?.requiredBy === 'manualApproval' ? 'guards.manualApproval' : 'the rule'}`]);
  }
  if (run.guard) lines.push(['Guard', `${run.guard.guard}: ${run.guard.detail}`]);
  if (run.health) lines.push(['Health', `${run.health.result}: ${run.health.detail}`]);
  if (run.verification) lines.push(['Verification', `${run.verification.result}: ${run.verification.detail}`]);
  if (detail) lines.push([event === 'escalation' ? 'Escalation' : 'Detail', detail]);
  return lines;
}
