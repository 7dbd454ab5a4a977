import type { Run, RunStep, RunWithSeen } from '../../domain/run.js';
import { oneLine, renderTable, truncate } from './text-table.js';

/** The first 8 characters of a run ID (what tables show; `runs show` and the decisions accept it). */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** A span as people say it: 45s, 12m, 3h5m, 2d4h. */
export function formatSpan(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
}

/** A precise duration for "took": 850ms, 2.4s, 3m10s. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
}

export function formatAge(iso: string | undefined, nowMs: number): string {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? '-' : formatSpan(nowMs - t);
}

/** `alert:RULE` or `manual:OPERATOR`. */
export function runSource(run: Pick<Run, 'trigger'>): string {
  const t = run.trigger ?? { source: 'manual' };
  if (t.source === 'alert') return `alert:${t.rule ?? t.alert?.alertname ?? '?'}`;
  return `manual:${t.operator ?? '?'}`;
}

/** The status, marked when nothing was really changed because it ran dry. */
export function statusText(run: Pick<Run, 'status' | 'dryRun'>): string {
  return run.dryRun ? `${run.status} (dry)` : run.status;
}

/** Why the run is where it is: the guard for blocked runs, else the recorded reason. */
export function runReason(run: Run): string {
  if (run.status === 'blocked' && run.guard) return `guard ${run.guard.guard}: ${run.guard.detail}`;
  if (run.status === 'awaiting_approval') return `needs approval (${run.approval?.requiredBy === 'rule' ? 'rule' : 'guards.manualApproval'})${run.reason ? `: ${run.reason}` : ''}`;
  if (run.status === 'running' && run.cancelRequested) return `cancel requested by ${run.cancelRequested.by}: ${run.cancelRequested.reason}`;
  return run.reason ?? '';
}

export const RUN_LIST_HEADERS = ['ID', 'STATUS', 'PLAYBOOK', 'TARGET', 'SOURCE', 'AGE', 'REASON'] as const;

export function runRow(run: Run, nowMs: number): string[] {
  return [shortId(run.id), statusText(run), run.playbook, run.target, runSource(run), formatAge(run.createdAt, nowMs), runReason(run)];
}

/** The runs table; REASON is cut to fit `width` (the terminal), else to 80 characters. */
export function renderRunList(runs: readonly Run[], nowMs: number, width?: number): string {
  if (runs.length === 0) return 'No runs found.\n';
  return renderTable(
    RUN_LIST_HEADERS,
    runs.map((r) => runRow(r, nowMs)),
    { maxWidths: [undefined, undefined, undefined, 48, 36, undefined, 80], ...(width !== undefined ? { width } : {}) },
  );
}

/** A value on one line: strings as they are, the rest as compact JSON. */
export function formatValue(value: unknown, max = 120): string {
  if (value === undefined) return '-';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return truncate(oneLine(text ?? String(value)), max);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What a step changed: `replicas: 2 → 5`, `unschedulable: false → true`, or `before → after`. */
export function formatChange(before: unknown, after: unknown): string {
  if (before === undefined && after === undefined) return '';
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    const parts = keys
      .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
      .map((k) => `${k}: ${formatValue(before[k], 60)} → ${formatValue(after[k], 60)}`);
    if (parts.length > 0) return parts.join(', ');
    return `${keys.map((k) => `${k}: ${formatValue(after[k], 60)}`).join(', ')} (unchanged)`;
  }
  if (before === undefined) return `→ ${formatValue(after, 80)}`;
  if (after === undefined) return `${formatValue(before, 80)} →`;
  return `${formatValue(before, 60)} → ${formatValue(after, 60)}`;
}

function timeOf(iso: string | undefined): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().slice(11, 19);
}

function when(iso: string | undefined, nowMs: number): string {
  if (!iso) return '-';
  return `${iso} (${formatAge(iso, nowMs)} ago)`;
}

/** For steps without before/after (events): the message they carried. */
function requestMessage(step: RunStep): string {
  const body = step.request?.body as { message?: unknown } | undefined;
  return typeof body?.message === 'string' ? `"${truncate(oneLine(body.message), 80)}"` : '';
}

export function renderSteps(steps: readonly RunStep[], width?: number): string {
  if (steps.length === 0) return '  (no Kubernetes requests)\n';
  const rows = steps.map((s, i) => [
    String(i + 1),
    timeOf(s.at),
    s.action,
    s.object,
    s.request?.dryRun && s.result !== 'dry_run' ? `${s.result} (dry)` : s.result,
    [formatChange(s.before, s.after) || requestMessage(s), s.detail ? oneLine(s.detail) : ''].filter(Boolean).join('; '),
  ]);
  const table = renderTable(['#', 'AT', 'ACTION', 'OBJECT', 'RESULT', 'BEFORE → AFTER'], rows, {
    maxWidths: [undefined, undefined, 24, 56, undefined, 100],
    ...(width !== undefined ? { width: width - 2 } : {}),
  });
  return table.replace(/^/gm, '  ');
}

/** The alert's own words: summary, description, runbook and the graph that fired it. */
function addAlertWords(add: (label: string, value: string | undefined) => void, alert: NonNullable<Run['trigger']['alert']>): void {
  const a = alert.annotations ?? {};
  add('Summary', a.summary ? oneLine(a.summary) : undefined);
  add('Description', a.description ? oneLine(a.description) : undefined);
  add('Runbook', a.runbook_url);
  add('Graph', alert.generatorURL);
}

/** `runs show`: everything an on-call engineer needs about one run. */
export function renderRunDetail(run: RunWithSeen, nowMs: number, width?: number): string {
  const lines: [string, string][] = [];
  const add = (label: string, value: string | undefined): void => {
    if (value !== undefined && value !== '') lines.push([label, value]);
  };
  add('Run', run.id);
  add('Status', `${run.status}${run.dryRun ? '   (dry run: nothing was changed)' : `   changed: ${run.changed ? 'yes' : 'no'}`}`);
  // A blocked run's guard has its own line below.
  add('Reason', run.status === 'blocked' && run.guard ? run.reason : runReason(run) || undefined);
  add('Playbook', run.playbook);
  add('Target', run.target);
  add('Params', formatValue(run.params ?? {}, 400));
  const t = run.trigger ?? { source: 'manual' as const };
  if (t.source === 'alert') {
    add('Trigger', `alert${t.rule ? `, rule ${t.rule}` : ''}`);
    if (t.alert) {
      add('Alert', `${t.alert.alertname}  fingerprint ${t.alert.fingerprint}  firing since ${t.alert.startsAt}`);
      if (run.seen) add('Sent', `${run.seen} notification${run.seen === 1 ? '' : 's'}, the last at ${run.lastSeenAt ?? '?'}`);
      const labels = Object.entries(t.alert.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(' ');
      add('Labels', labels || undefined);
      addAlertWords(add, t.alert);
    }
  } else if (t.source === 'escalation') {
    add('Trigger', `escalation${t.rule ? ` of rule ${t.rule}` : ''}${run.escalatedFrom ? `, from run ${run.escalatedFrom}` : ''}`);
    if (t.alert) addAlertWords(add, t.alert);
  } else {
    add('Trigger', `manual, by ${t.operator ?? '?'}`);
  }
  if (run.escalations && run.escalations.length > 0) add('Escalated to', run.escalations.join(', '));
  if (run.bypassGuards) add('Guards', 'bypassed by an admin (cooldowns, rate limits, node budget)');
  if (run.guard) add('Guard', `${run.guard.guard}: ${run.guard.detail}`);
  if (run.approval) {
    const a = run.approval;
    const by = a.requiredBy === 'rule' ? 'the rule' : 'guards.manualApproval';
    const decision = a.decision
      ? `${a.decision}${a.by ? ` by ${a.by}` : ''}${a.at ? ` at ${a.at}` : ''}${a.reason ? `: ${a.reason}` : ''}`
      : 'pending: another operator must approve or reject';
    add('Approval', `required by ${by}; ${decision}`);
  }
  if (run.precheck) {
    const p = run.precheck;
    add('Precheck', `${p.result ?? 'not evaluated yet'}: ${p.query}${p.detail ? ` -> ${p.detail}` : ''}`);
  }
  if (run.health) add('Health', `${run.health.result}: ${run.health.detail}`);
  if (run.verification) {
    const v = run.verification;
    add('Verification', `${v.result}: ${v.detail}${v.result === 'pending' ? '' : ` (at ${v.at})`}${v.silenceId ? `; silence ${v.silenceId}` : ''}`);
  }
  if (run.cancelRequested) add('Cancel', `requested by ${run.cancelRequested.by} at ${run.cancelRequested.at}: ${run.cancelRequested.reason}`);
  add('Created', when(run.createdAt, nowMs));
  if (run.startedAt) add('Started', when(run.startedAt, nowMs));
  if (run.finishedAt) {
    const took = run.startedAt ? Date.parse(run.finishedAt) - Date.parse(run.startedAt) : NaN;
    add('Finished', `${when(run.finishedAt, nowMs)}${Number.isNaN(took) ? '' : `, took ${formatDuration(took)}`}`);
  }
  if (run.attempts > 1) add('Attempts', String(run.attempts));
  const labelWidth = Math.max(...lines.map(([l]) => l.length)) + 2;
  const head = lines.map(([l, v]) => `${`${l}:`.padEnd(labelWidth)}${v}\n`).join('');
  return `${head}\nSteps:\n${renderSteps(run.steps ?? [], width)}`;
}
