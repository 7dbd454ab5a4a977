import type { AnyPlaybook } from '../engine/playbook.js';
import type { ConfigProblem } from './config-error.js';
import { issuesToProblems, requiredMessage } from './issues-to-problems.js';

const PLACEHOLDER = 'remediator-placeholder';

/**
 * An alert carrying every label the shipped playbooks read (docs/playbooks.md; deploy/prometheus/rules.yml), each with a value
 * that is a valid Kubernetes name. `deployment` only: a playbook choosing the kind from the label
 * present must see one kind, not two.
 */
const SYNTHETIC_LABELS: Readonly<Record<string, string>> = {
  alertname: PLACEHOLDER,
  namespace: PLACEHOLDER,
  pod: PLACEHOLDER,
  container: PLACEHOLDER,
  deployment: PLACEHOLDER,
  node: PLACEHOLDER,
  kubernetes_node: PLACEHOLDER,
  Hostname: PLACEHOLDER,
  hostname: PLACEHOLDER,
  instance: `${PLACEHOLDER}:9100`,
};

/**
 * Checks a rule's params against its playbook's schema as far as the config alone allows, with
 * the params the playbook derives from alert labels (`alertKeys`) treated as present:
 *
 * 1. The keys in `alertKeys` that the rule leaves to the alert are filled with what the playbook's
 *    own `paramsFromLabels` makes of a synthetic alert, so object-level refinements (e.g.
 *    "replicas or step, not both") run as they will at alert time instead of being skipped
 *    because a required key is missing.
 * 2. Issues at a key in `alertKeys` that the rule did not set are dropped, covering labels the
 *    synthetic alert does not have.
 *
 * Whatever the rule sets is checked in full, including a derived key it overrides.
 */
export function checkRuleParams(
  playbook: AnyPlaybook,
  params: Record<string, unknown>,
  alertKeys: readonly string[],
  prefix: readonly PropertyKey[],
): ConfigProblem[] {
  const leftToAlert = (key: PropertyKey | undefined): key is string =>
    typeof key === 'string' && alertKeys.includes(key) && !Object.hasOwn(params, key);

  const placeholders = Object.fromEntries(
    Object.entries(derivedFromSyntheticAlert(playbook)).filter(([key]) => leftToAlert(key)),
  );
  const result = playbook.paramsSchema.safeParse({ ...placeholders, ...params }, { error: requiredMessage });
  if (result.success) return [];
  return issuesToProblems(
    result.error.issues.filter((issue) => !leftToAlert(issue.path[0])),
    prefix,
  );
}

function derivedFromSyntheticAlert(playbook: AnyPlaybook): Record<string, unknown> {
  try {
    return playbook.paramsFromLabels({ ...SYNTHETIC_LABELS });
  } catch {
    // A playbook that cannot handle the synthetic alert just gets no placeholders (step 2 still applies).
    return {};
  }
}
