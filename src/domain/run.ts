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

export interface RunTrigger {
  source: 'alert' | 'manual';
  rule?: string;
  alert?: AlertRef;
  operator?: string;
  /** Why the operator asked for a manual run (required, audited). */
  reason?: string;
  /** Idempotency key of the alert episode (alert runs only). */
  episode?: string;
}

/** One Kubernetes request a run made, or would make when dry. */
export interface RunStep {
  action: string;
  object: string;
  request: { method: string; path: string; dryRun: boolean; body?: unknown };
  result: 'ok' | 'error' | 'dry_run' | 'gone' | 'blocked';
  detail?: string;
  before?: unknown;
  after?: unknown;
  at: string;
}

export interface RunApproval {
  /** Why approval is required: the rule says so, or `guards.manualApproval`. */
  requiredBy: 'rule' | 'manualApproval';
  decision?: 'approved' | 'rejected' | 'expired';
  by?: string;
  reason?: string;
  at?: string;
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
  attempts: number;
  createdAt: string;
  /** Approved runs get `guards.maxQueueAge` from here rather than from creation. */
  queuedAt?: string;
  startedAt?: string;
  finishedAt?: string;
}

/** What a playbook returns; thrown errors become `failed` (or retries). */
export type PlaybookOutcome =
  | { result: 'changed'; reason: string }
  | { result: 'noop'; reason: string }
  | { result: 'skipped'; reason: string };
