/**
 * The one rule set both receivers use. Remediator gets it as remediator.yaml `rules:`; the naive
 * receiver as a table keyed by alertname (its "simple alertname equality" matcher). The alerts of
 * bench/traffic.ts satisfy both forms identically (GPUNodeOverheating is always severity=critical).
 */
export interface NaiveRule {
  name: string;
  alertname: string;
  playbook: string;
  params: Record<string, unknown>;
}

export const NAIVE_RULES: readonly NaiveRule[] = [
  { name: 'drain-overheated-gpu-nodes', alertname: 'GPUNodeOverheating', playbook: 'drain-gpu-node', params: { timeoutSeconds: 900 } },
  { name: 'restart-oom-killed-pods', alertname: 'KubePodOOMKilled', playbook: 'restart-oom-pod', params: {} },
  { name: 'scale-slow-llm', alertname: 'LLMHighLatencyP95', playbook: 'scale-replicas', params: { step: 1, maxReplicas: 8 } },
];

export const REMEDIATOR_RULES_YAML = `
rules:
  - name: drain-overheated-gpu-nodes
    matchers: ['alertname="GPUNodeOverheating"', 'severity=~"critical|page"']
    playbook: drain-gpu-node
    params: { timeoutSeconds: 900 }
    cooldown: 1h
  - name: restart-oom-killed-pods
    matchers: ['alertname="KubePodOOMKilled"']
    playbook: restart-oom-pod
    cooldown: 10m
  - name: scale-slow-llm
    matchers: ['alertname="LLMHighLatencyP95"']
    playbook: scale-replicas
    params: { step: 1, maxReplicas: 8 }
    cooldown: 15m
`;

/**
 * Suite `matchers`: the same three rules, every matcher an equality (`=`), or every matcher a
 * regular expression (`=~`, RE2 through re2js, anchored as Alertmanager anchors them) that matches
 * exactly the same alerts of bench/traffic.ts. Their ratio is what linear-time regex matching
 * costs the webhook.
 */
export function matcherRulesYaml(style: 'equality' | 'regex'): string {
  const m = (label: string, value: string, alternative: string) => (style === 'equality' ? `'${label}="${value}"'` : `'${label}=~"${value}|${alternative}"'`);
  return `
rules:
  - name: drain-overheated-gpu-nodes
    matchers: [${m('alertname', 'GPUNodeOverheating', 'GPUNodeOverheatingCritical')}, ${m('severity', 'critical', 'page')}]
    playbook: drain-gpu-node
    params: { timeoutSeconds: 900 }
    cooldown: 1h
  - name: restart-oom-killed-pods
    matchers: [${m('alertname', 'KubePodOOMKilled', 'KubeContainerOOMKilled')}]
    playbook: restart-oom-pod
    cooldown: 10m
  - name: scale-slow-llm
    matchers: [${m('alertname', 'LLMHighLatencyP95', 'LLMHighLatencyP99')}]
    playbook: scale-replicas
    params: { step: 1, maxReplicas: 8 }
    cooldown: 15m
`;
}
