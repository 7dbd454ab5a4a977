/** What the engine needs of a configured rule (the config module builds these). */
export interface EngineRule {
  name: string;
  playbook: string;
  params: Record<string, unknown>;
  cooldownMs?: number;
  maxRunsPerHour?: number;
  approval: 'none' | 'required';
  onResolved: 'cancel-pending' | 'ignore';
  dryRun: boolean;
}

/** Guards configured globally (DESIGN §3 `guards`). */
export interface EngineGuards {
  maxConcurrentRuns: number;
  /** An absolute count, or a percentage of all nodes rounded up. */
  maxUnschedulableNodes: { count: number } | { percent: number };
  namespaces: { allow?: string[]; deny?: string[] };
  optOutLabel: string;
  maxQueueAgeMs: number;
  approvalTimeoutMs: number;
}
