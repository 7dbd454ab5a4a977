import type { AuditItem } from '../../audit/audit-query.js';
import type { AuditChainReport } from '../../audit/verify-audit-chain.js';
import { formatChange, shortId } from './format-run.js';
import { oneLine, renderTable, truncate } from './text-table.js';

export const AUDIT_HEADERS = ['TIME', 'ACTOR', 'TYPE', 'TARGET', 'RUN', 'DETAIL'] as const;

/** Fixed widths for `--follow`, whose rows are printed before the next ones are known. */
const FOLLOW_WIDTHS = [20, 14, 15, 36, 8] as const;
const DETAIL_MAX = 100;

/** `2024-05-01T12:00:00Z`: the decision time to the second (the entry's `at`). */
export function auditTime(item: Pick<AuditItem, 'at' | 'id'>): string {
  let t = Date.parse(item.at);
  if (Number.isNaN(t)) t = Number(item.id.split('-')[0]);
  return Number.isNaN(t) ? '-' : `${new Date(t).toISOString().slice(0, 19)}Z`;
}

function join(...parts: (string | false | undefined | null)[]): string {
  return parts.filter((p): p is string => typeof p === 'string' && p !== '').join(' ');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function suffix(text: string | undefined): string {
  return text ? `: ${text}` : '';
}

/** What the entry says, per kind: the action, guard, new status or reason. */
export function auditDetail(item: AuditItem): string {
  switch (item.type) {
    case 'run_created':
      return join(`${item.source}`, item.dryRun && 'dry-run', `→ ${item.status}`, item.alertname && `alert ${item.alertname}`);
    case 'guard_blocked':
      return `guard ${item.guard}: ${item.detail}`;
    case 'run_status':
      return join(`${item.from ?? '?'} → ${item.to}`, item.guard && `(guard ${item.guard})`, item.dryRun && '(dry)') + suffix(item.reason);
    case 'kube_mutation': {
      // Field by field when both sides are objects (replicas: 2 → 3); whole objects (an evicted pod) are too long for a cell.
      const change = isPlainObject(item.before) && isPlainObject(item.after) ? formatChange(item.before, item.after) : '';
      return join(item.action, item.object, item.dryRun && item.result !== 'dry_run' ? `${item.result} (dry)` : item.result, change && `(${change})`) + suffix(item.detail);
    }
    case 'operator_action':
      return join(item.action, item.scope) + suffix(item.reason);
    case 'auth_failed':
      return `${item.client} ×${item.count}: ${item.reason}`;
    case 'alert_resolved':
      return `alert ${item.fingerprint} resolved${item.cancelled && item.cancelled.length > 0 ? `; cancelled ${item.cancelled.map(shortId).join(', ')}` : ''}`;
    case 'alert_decision':
      return `alert ${item.alertname || item.fingerprint || '(no fingerprint)'} ${item.decision}${item.rule && item.rule !== 'none' ? ` by rule ${item.rule}` : ''}${item.reason ? `: ${item.reason}` : ''}`;
    case 'audit_trimmed':
      return `${item.count} oldest entries removed (${item.reason}); anchor ${item.anchorId}`;
    case 'health_check':
      return `health ${item.result}: ${item.detail}`;
    case 'precheck':
      return `precheck ${item.result}: ${item.query}` + suffix(item.detail);
    case 'verification':
      return join(`verification ${item.result}`, item.silenceId && `silence ${item.silenceId}`) + suffix(item.detail);
    case 'escalation':
      return join(`escalation (${item.reason})`, item.followUpRunId && `follow-up ${shortId(item.followUpRunId)}`, (item.notify?.length ?? 0) > 0 && `notified ${item.notify!.join(', ')}`, item.held && 'target held until ack') + suffix(item.detail);
    case 'notification_dead_letter':
      return `notification ${item.event} to ${item.channel} gave up after ${item.attempts} attempts: ${item.error}`;
    case 'unreadable':
      return `unreadable entry: ${item.raw}`;
    default: {
      // A kind this CLI does not know yet (a newer server): its fields as JSON.
      const { id: _id, at: _at, actor: _actor, type: _type, sealed: _sealed, ...rest } = item as AuditItem & Record<string, unknown>;
      return JSON.stringify(rest);
    }
  }
}

export function auditRow(item: AuditItem): string[] {
  return [auditTime(item), item.actor, item.type, 'target' in item && typeof item.target === 'string' ? item.target : '-', 'runId' in item && typeof item.runId === 'string' ? shortId(item.runId) : '-', oneLine(auditDetail(item))];
}

/** The audit table, newest first as the API answers; DETAIL is cut to fit `width` (the terminal), else to 100 characters. */
export function renderAuditTable(items: readonly AuditItem[], width?: number): string {
  if (items.length === 0) return 'No audit entries found.\n';
  return renderTable(AUDIT_HEADERS, items.map(auditRow), {
    maxWidths: [undefined, 24, undefined, 48, undefined, DETAIL_MAX],
    ...(width !== undefined ? { width } : {}),
  });
}

function followLine(cells: readonly string[], width?: number): string {
  const fixed = FOLLOW_WIDTHS.map((w, i) => truncate(oneLine(cells[i] ?? ''), w).padEnd(w)).join('  ');
  const room = width !== undefined ? Math.max(20, width - fixed.length - 2) : DETAIL_MAX;
  return `${`${fixed}  ${truncate(oneLine(cells[5] ?? ''), room)}`.trimEnd()}\n`;
}

/** The header of `--follow` table output (fixed column widths). */
export function followHeader(width?: number): string {
  return followLine(AUDIT_HEADERS, width);
}

/** One `--follow` table row. */
export function followRow(item: AuditItem, width?: number): string {
  return followLine(auditRow(item), width);
}

/** `audit verify` for people. */
export function renderVerifyReport(r: AuditChainReport): string {
  const lines: string[] = [];
  if (r.ok) {
    lines.push('Audit chain: ok');
    if (r.unchangedThrough) lines.push(`Unchanged:   ${r.unchangedThrough.entries} entries through ${r.unchangedThrough.id}, as at the last verify (key-attested checkpoint; --full recomputes them)`);
    lines.push(`Checked:     ${r.checked} sealed entries, each matches the HMAC chain${r.range ? ` (${r.range.from} … ${r.range.to})` : ''}`);
  } else {
    lines.push('Audit chain: NOT OK');
    if (r.firstBad) lines.push(`First bad:   ${r.firstBad.id}: ${r.firstBad.reason}`);
    lines.push(`Checked:     ${r.checked} sealed entries matched before it`);
  }
  lines.push(`Unsealed:    ${r.unsealed}${r.unsealed > 0 ? ' (appended after the sealer\'s last pass; not yet chained, not a failure)' : ''}`);
  return `${lines.join('\n')}\n`;
}
