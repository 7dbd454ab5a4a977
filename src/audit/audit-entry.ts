import type { GuardName } from '../domain/errors.js';
import type { RunStatus } from '../domain/run.js';

/**
 * One decision in the audit stream. Stored as `XADD {prefix}:audit * e <json>`; the Lua
 * scripts of the engine write the same shape with `cjson.encode`, so a reader must accept fields
 * it does not know and must not rely on key order (the seal canonicalizes).
 */
interface AuditBase {
  /** ISO 8601 time the decision was made. */
  at: string;
  /** 'alertmanager', 'system', 'worker', 'anonymous' (failed auth) or an operator's name. */
  actor: string;
  runId?: string;
  target?: string;
  playbook?: string;
  rule?: string;
}

export interface RunCreatedEntry extends AuditBase {
  type: 'run_created';
  source: 'alert' | 'manual' | 'escalation';
  fingerprint?: string;
  alertname?: string;
  episode?: string;
  params: Record<string, unknown>;
  dryRun: boolean;
  status: RunStatus;
}

export interface GuardBlockedEntry extends AuditBase {
  type: 'guard_blocked';
  guard: GuardName;
  detail: string;
  episode?: string;
  fingerprint?: string;
}

export interface RunStatusEntry extends AuditBase {
  type: 'run_status';
  from?: RunStatus;
  to: RunStatus;
  reason?: string;
  changed?: boolean;
  dryRun?: boolean;
  guard?: GuardName;
}

export interface KubeMutationEntry extends AuditBase {
  type: 'kube_mutation';
  action: string;
  object: string;
  method: string;
  path: string;
  dryRun: boolean;
  result: 'ok' | 'error' | 'dry_run' | 'gone' | 'blocked';
  detail?: string;
  before?: unknown;
  after?: unknown;
}

export const OPERATOR_ACTIONS = ['trigger', 'approve', 'reject', 'cancel', 'pause', 'resume', 'bypass', 'ack'] as const;
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number];

export interface OperatorActionEntry extends AuditBase {
  type: 'operator_action';
  action: OperatorAction;
  reason: string;
  /** What a pause/resume applies to: 'global' or a playbook name. */
  scope?: string;
}

export interface AuthFailedEntry extends AuditBase {
  type: 'auth_failed';
  /** Client address. */
  client: string;
  /** Failures from this client since its previous entry (aggregated per minute). */
  count: number;
  reason: string;
}

export interface AlertResolvedEntry extends AuditBase {
  type: 'alert_resolved';
  fingerprint: string;
  /** Runs cancelled because their alert resolved before they started. */
  cancelled?: string[];
}

/** The first `unmatched` or `invalid_params` decision of an episode (written by the intake script, once). */
export interface AlertDecisionEntry extends AuditBase {
  type: 'alert_decision';
  decision: 'unmatched' | 'invalid_params';
  fingerprint: string;
  alertname: string;
  /** The episode key; its rule is `none` for an unmatched or malformed alert. */
  episode: string;
  reason?: string;
}

export interface AuditTrimmedEntry extends AuditBase {
  type: 'audit_trimmed';
  /** Entries removed from the oldest end by this trim. */
  count: number;
  /** The last removed entry: the new retention anchor. */
  anchorId: string;
  reason: 'maxAge' | 'maxEntries';
  /** Stream length when the trim was decided: verify checks a maxEntries trim was due. */
  lengthBefore?: number;
}

export interface HealthCheckEntry extends AuditBase {
  type: 'health_check';
  result: 'healthy' | 'unhealthy';
  detail: string;
}

export interface PrecheckEntry extends AuditBase {
  type: 'precheck';
  /** The PromQL sent to Prometheus, labels filled in. */
  query: string;
  result: 'pass' | 'fail' | 'error';
  /** The samples it returned, or what went wrong. */
  detail: string;
}

export interface VerificationEntry extends AuditBase {
  type: 'verification';
  /** `scheduled` when it starts; then its outcome. */
  result: 'scheduled' | 'resolved' | 'not_resolved' | 'error';
  detail: string;
  /** PromQL polled until empty; absent when Alertmanager is asked about the alert. */
  query?: string;
  /** The Alertmanager silence held while verifying, if one was asked for. */
  silenceId?: string;
}

export interface EscalationEntry extends AuditBase {
  type: 'escalation';
  reason: 'verify_failed' | 'verify_error' | 'repeats';
  detail: string;
  /** Channels notified. */
  notify?: string[];
  /** The follow-up run it created, if any. */
  followUpRunId?: string;
  /** Whether the target is now held (guard `escalated`) until an operator acknowledges. */
  held: boolean;
}

export interface NotificationDeadLetterEntry extends AuditBase {
  type: 'notification_dead_letter';
  channel: string;
  event: string;
  attempts: number;
  /** The last failure (no URL, no secret). */
  error: string;
}

export type AuditEntry =
  | RunCreatedEntry
  | GuardBlockedEntry
  | RunStatusEntry
  | KubeMutationEntry
  | OperatorActionEntry
  | AuthFailedEntry
  | AlertResolvedEntry
  | AlertDecisionEntry
  | AuditTrimmedEntry
  | HealthCheckEntry
  | PrecheckEntry
  | VerificationEntry
  | EscalationEntry
  | NotificationDeadLetterEntry;

export type AuditEntryType = AuditEntry['type'];

/** The stream field holding the entry JSON; Lua writers use the same name. */
export const AUDIT_ENTRY_FIELD = 'e';

/** The exact value stored in the stream's `e` field (Lua callers pass it as an ARGV). */
export function encodeAuditEntry(entry: AuditEntry): string {
  return JSON.stringify(entry);
}
