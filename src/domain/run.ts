import type { AlertRef } from './alert.js';
import type { GuardName } from './errors.js';

export const RUN_STATUSES = [
  'queued',
  'awaiting_approval',
  'running',
  'succeeded',
  'failed',
  'skipped',
  'blocked',
  'cancelled',
  'rejected',
  'expired',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const TERMINAL_STATUSES: readonly RunStatus[] = [
  'succeeded',
  'failed',
  'skipped',
  'blocked',
  'cancelled',
  'rejected',
  'expired',
];

export function isTerminal(status: RunStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/**
 * The rule's guard settings when the run was created. Execution re-checks against these, not
 * against the config of the process that happens to execute it (the rule may have changed or
 * vanished since).
 */
export interface RuleSnapshot {
  cooldownMs?: number;
  maxRunsPerHour?: number;
  onResolved: 'cancel-pending' | 'ignore';
  dryRun: boolean;
  /** The rule's verification, its query already filled in with the alert's labels. */
  verify?: { withinMs: number; intervalMs: number; silence: boolean; query?: string };
}

export const RUN_SOURCES = ['alert', 'manual', 'escalation'] as const;
export type RunSource = (typeof RUN_SOURCES)[number];

export interface RunTrigger {
  /** `escalation`: a follow-up run an escalation created (see `Run.escalatedFrom`). */
  source: RunSource;
  rule?: string;
  /** Alert runs: the rule as it was at intake. */
  ruleConfig?: RuleSnapshot;
  alert?: AlertRef;
  operator?: string;
  /** Why the operator asked for a manual run (required, audited). */
  reason?: string;
  /** Idempotency key of the alert episode (alert runs only). */
  episode?: string;
}

/**
 * One Kubernetes request a run made, or would make when dry. A real mutation is recorded twice:
 * first as its intent (`result: 'pending'`, written before the request is sent), then with its
 * outcome. A step whose outcome is not known (`pending`, or an `error` with `uncertain`: a 5xx or
 * no answer, so the server may have applied it) is settled by reading the object back.
 */
export interface RunStep {
  action: string;
  object: string;
  request: { method: string; path: string; dryRun: boolean; body?: unknown };
  result: 'pending' | 'ok' | 'error' | 'dry_run' | 'gone' | 'blocked';
  detail?: string;
  before?: unknown;
  after?: unknown;
  at: string;
  /** Identifies the change (`scale deployment/ns/web`): a later attempt resumes the latest step with its key. */
  key?: string;
  /** What the object must look like once the change is applied (see src/engine/step-intent.ts). */
  intent?: unknown;
  /** The run's attempt that sent it (run.attempts at the time). */
  attempt?: number;
  /** An error after which the server may still have applied the request (5xx, no answer). */
  uncertain?: boolean;
}

export interface RunApproval {
  /** Why approval is required: the rule says so, `guards.manualApproval`, or the rule's `escalate.playbook.approval`. */
  requiredBy: 'rule' | 'manualApproval' | 'escalation';
  decision?: 'approved' | 'rejected' | 'expired';
  by?: string;
  reason?: string;
  at?: string;
}

/**
 * The precheck (README "Closing the loop"): the query as sent, and once evaluated its verdict. `pass` = a
 * non-empty result; `fail` = empty; `error` = Prometheus unreachable, timing out or refusing.
 */
export interface RunPrecheck {
  query: string;
  result?: 'pass' | 'fail' | 'error';
  detail?: string;
  at?: string;
}

/**
 * Whether the problem went away after the run (README "Closing the loop"). `pending` while the delayed checks
 * run; the outcome once they end. `silenceId` is the Alertmanager silence held meanwhile.
 */
export interface RunVerification {
  result: 'pending' | 'resolved' | 'not_resolved' | 'error';
  detail: string;
  at: string;
  /** When verification gives up: the run's end plus `verify.within`. */
  deadline: string;
  query?: string;
  checks: number;
  silenceId?: string;
}

/** The built-in health check's verdict (README "Closing the loop"): what "done" means on the cluster. */
export interface RunHealth {
  result: 'healthy' | 'unhealthy';
  detail: string;
  at: string;
}

export interface Run {
  id: string;
  status: RunStatus;
  changed: boolean;
  dryRun: boolean;
  reason?: string;
  playbook: string;
  params: Record<string, unknown>;
  target: string;
  trigger: RunTrigger;
  guard?: { guard: GuardName; detail: string };
  approval?: RunApproval;
  /** Admin override: cooldowns, rate limits and the node budget do not apply (audited). */
  bypassGuards?: boolean;
  /** Why an operator cancelled it (set while a running run winds down between steps). */
  cancelRequested?: { by: string; reason: string; at: string };
  steps: RunStep[];
  precheck?: RunPrecheck;
  /** Set once the playbook's health check has a verdict (never for dry runs). */
  health?: RunHealth;
  verification?: RunVerification;
  /** A follow-up run: the run whose escalation created it. */
  escalatedFrom?: string;
  /** Follow-up runs its escalations created, oldest first. */
  escalations?: string[];
  attempts: number;
  createdAt: string;
  /** Approved runs get `guards.maxQueueAge` from here rather than from creation. */
  queuedAt?: string;
  startedAt?: string;
  finishedAt?: string;
}

/** A run as `GET /api/v1/runs/{id}` answers it: alert runs also say how often their episode was sent (from the alert inbox; not stored on the run). */
export interface RunWithSeen extends Run {
  seen?: number;
  lastSeenAt?: string;
}

/** What a playbook returns; thrown errors become `failed` (or retries). */
export type PlaybookOutcome =
  | { result: 'changed'; reason: string }
  | { result: 'noop'; reason: string }
  | { result: 'skipped'; reason: string };
