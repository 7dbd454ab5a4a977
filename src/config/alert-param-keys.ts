/**
 * Params each playbook derives from alert labels. A rule need not set these (the alert supplies
 * them), so the config check does not report them missing; values a rule does set are still
 * checked. The Playbook interface has no field for this, hence the list here; a playbook missing
 * from it is checked as if nothing came from the alert, so add new label-deriving playbooks here
 * or pass `alertParamKeys` to the loader.
 */
export const DEFAULT_ALERT_PARAM_KEYS: Readonly<Record<string, readonly string[]>> = {
  'restart-oom-pod': ['namespace', 'pod', 'container'],
  'scale-replicas': ['namespace', 'kind', 'name'],
  'drain-gpu-node': ['node'],
  'uncordon-node': ['node'],
  'raise-memory-limit': ['namespace', 'pod', 'container'],
};

/**
 * Alert labels each playbook's label mapping reads (`paramsFromLabels`). A precheck or verify
 * query may use these in placeholders besides the labels the rule's matchers require.
 */
export const DEFAULT_ALERT_LABELS_READ: Readonly<Record<string, readonly string[]>> = {
  'restart-oom-pod': ['namespace', 'pod', 'container'],
  'scale-replicas': ['namespace', 'deployment', 'statefulset'],
  'drain-gpu-node': ['node', 'kubernetes_node', 'Hostname', 'hostname', 'instance'],
  'uncordon-node': ['node', 'kubernetes_node', 'Hostname', 'hostname', 'instance'],
  'raise-memory-limit': ['namespace', 'pod', 'container'],
};

/**
 * What kind of object each playbook's target is. An escalation's follow-up acts on the same
 * target as the run that escalated (or its owning workload), so the two must agree.
 */
export const PLAYBOOK_TARGET_KINDS: Readonly<Record<string, 'node' | 'workload'>> = {
  'restart-oom-pod': 'workload',
  'scale-replicas': 'workload',
  'raise-memory-limit': 'workload',
  'drain-gpu-node': 'node',
  'uncordon-node': 'node',
};

/** Params a follow-up run takes from the escalated run's target (src/engine/follow-up-params.ts). */
export const TARGET_PARAM_KEYS: Readonly<Record<'node' | 'workload', readonly string[]>> = {
  node: ['node'],
  workload: ['namespace', 'kind', 'name'],
};
