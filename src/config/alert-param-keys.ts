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
};
