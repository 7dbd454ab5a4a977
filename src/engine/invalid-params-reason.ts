import type { AnyPlaybook } from './playbook.js';

interface ParamIssue {
  path: readonly PropertyKey[];
  message: string;
}

/**
 * Why an alert's params are unusable, in the words an on-call engineer needs: the rule, the
 * label it lacked (or the value that was not a valid name), and the labels the alert did have —
 * "rule scale-slow-llm needs label deployment (or statefulset); the alert has alertname,
 * namespace, pod". Issues that no label explains keep the schema's own message.
 */
export function invalidParamsReason(
  rule: { name: string; params: Record<string, unknown> },
  playbook: Pick<AnyPlaybook, 'paramLabels'>,
  labels: Readonly<Record<string, string>>,
  issues: readonly ParamIssue[],
): string {
  const parts: string[] = [];
  for (const issue of issues) {
    const param = typeof issue.path[0] === 'string' ? issue.path[0] : '';
    const sources = playbook.paramLabels?.[param];
    let part: string;
    if (sources && !(param in rule.params)) {
      const present = sources.filter((label) => labels[label] !== undefined);
      part =
        present.length === 0
          ? `needs label ${sources[0]}${sources.length > 1 ? ` (or ${sources.slice(1).join(', ')})` : ''}`
          : `cannot use ${present.map((l) => `label ${l}=${JSON.stringify(labels[l])}`).join(' or ')} as ${param}: ${issue.message}`;
    } else {
      part = `param ${issue.path.map(String).join('.') || '(params)'}: ${issue.message}`;
    }
    if (!parts.includes(part)) parts.push(part);
  }
  const names = Object.keys(labels).sort();
  return `rule ${rule.name} ${parts.join('; ')}; the alert has ${names.length > 0 ? names.join(', ') : 'no labels'}`;
}
