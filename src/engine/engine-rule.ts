/** What the engine needs of a configured rule (the config module builds these). */
export interface EngineRule {
  name: string;
  playbook: string;
  /** As written; merged over the alert-derived params, and validated as a whole, per alert. */
  params: Record<string, unknown>;
  cooldownMs?: number;
  maxRunsPerHour?: number;
  approval: 'none' | 'required';
  onResolved: 'cancel-pending' | 'ignore';
  dryRun: boolean;
  /** PromQL with `{{ labels.NAME }}` placeholders, evaluated right before the first mutation. */
  precheck?: string;
  verify?: VerifyConfig;
  escalate?: EscalateConfig;
  /** Channels told about this rule's runs (awaiting approval, started, succeeded, failed, blocked). */
  notify?: string[];
}

/** `escalate` on a rule (README "Closing the loop"). */
export interface EscalateConfig {
  notify: string[];
  afterRepeats?: { count: number; withinMs: number };
  /** A follow-up run on the same target (or its owning workload). */
  playbook?: { name: string; params: Record<string, unknown>; approval: 'none' | 'required' };
}

/** `verify` on a rule (README "Closing the loop"). */
export interface VerifyConfig {
  withinMs: number;
  /** PromQL (placeholders allowed) polled until empty; without it, Alertmanager is asked whether the alert still fires. */
  query?: string;
  /** Silence the alert in Alertmanager while verifying. */
  silence: boolean;
  intervalMs: number;
}

/** Guards configured globally (docs/configuration.md `guards`). */
export interface EngineGuards {
  /** Cluster-wide. */
  maxConcurrentRuns: number;
  /** An absolute count, or a percentage of all nodes rounded up. */
  maxUnschedulableNodes: { count: number } | { percent: number };
  /** Exactly one of the two is set. */
  namespaces: { allow?: string[]; deny?: string[] };
  optOutLabel: string;
  maxQueueAgeMs: number;
  approvalTimeoutMs: number;
}
