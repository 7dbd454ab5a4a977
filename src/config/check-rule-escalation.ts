import type { ConfigProblem } from './config-error.js';
import { checkRuleParams } from './check-rule-params.js';
import type { PlaybookLookup } from './cross-check.js';
import { formatPath } from './format-path.js';
import { PLAYBOOK_TARGET_KINDS, TARGET_PARAM_KEYS } from './alert-param-keys.js';

/**
 * A rule's `escalate` (README "Closing the loop"): it must be able to happen (a `verify` or `afterRepeats`),
 * its follow-up playbook must exist and act on the same kind of target as the rule's own, and
 * its params must pass that playbook's schema, with the params the alert's labels and the
 * escalated run's target provide treated as present.
 */
export function checkRuleEscalation(
  rule: Record<string, unknown>,
  at: (...rest: PropertyKey[]) => PropertyKey[],
  playbooks: PlaybookLookup,
  alertParamKeys: Readonly<Record<string, readonly string[]>>,
): ConfigProblem[] {
  const escalate = rule.escalate;
  if (!isRecord(escalate)) return [];
  const problems: ConfigProblem[] = [];
  if (rule.verify === undefined && escalate.afterRepeats === undefined) {
    problems.push({ path: formatPath(at('escalate')), message: 'never happens: it needs verify (escalates when verification ends not_resolved) or escalate.afterRepeats' });
  }
  const follow = escalate.playbook;
  if (!isRecord(follow) || typeof follow.name !== 'string' || follow.name === '') return problems;
  const playbook = playbooks.get(follow.name);
  if (!playbook) {
    problems.push({ path: formatPath(at('escalate', 'playbook', 'name')), message: `unknown playbook ${JSON.stringify(follow.name)}` });
    return problems;
  }
  const own = typeof rule.playbook === 'string' ? PLAYBOOK_TARGET_KINDS[rule.playbook] : undefined;
  const theirs = PLAYBOOK_TARGET_KINDS[follow.name];
  if (own && theirs && own !== theirs) {
    problems.push({
      path: formatPath(at('escalate', 'playbook', 'name')),
      message: `${follow.name} acts on a ${theirs}, but this rule's ${String(rule.playbook)} acts on a ${own}: a follow-up must act on the same target or its owning workload`,
    });
    return problems;
  }
  const params = isRecord(follow.params) ? follow.params : {};
  const derived = [...new Set([...(alertParamKeys[follow.name] ?? []), ...(theirs ? TARGET_PARAM_KEYS[theirs] : [])])];
  problems.push(...checkRuleParams(playbook, params, derived, at('escalate', 'playbook', 'params')));
  return problems;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
