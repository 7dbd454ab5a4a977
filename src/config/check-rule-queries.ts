import { parseMatcher, type Matcher } from '../alertmanager/matcher.js';
import { parseQueryTemplate } from '../engine/query-template.js';
import type { ConfigProblem } from './config-error.js';
import { formatPath } from './format-path.js';

/**
 * A rule's `precheck` and `verify` against what they need (README "Closing the loop"): Prometheus for queries,
 * Alertmanager for a verify without query and for silences; placeholders inside quoted strings,
 * naming only labels the rule's matchers require or the playbook's label mapping reads (so an
 * alert that matched the rule can fill them in).
 */
export function checkRuleQueries(
  rule: Record<string, unknown>,
  at: (...rest: PropertyKey[]) => PropertyKey[],
  context: { hasPrometheus: boolean; hasAlertmanager: boolean; labelsRead: readonly string[] },
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const required = requiredLabels(rule.matchers);
  const checkQuery = (query: unknown, path: PropertyKey[]) => {
    if (typeof query !== 'string' || query === '') return;
    if (!context.hasPrometheus) problems.push({ path: formatPath(path), message: 'needs prometheus.url to run the query' });
    const template = parseQueryTemplate(query);
    for (const problem of template.problems) problems.push({ path: formatPath(path), message: problem });
    for (const label of template.labels) {
      if (required.has(label) || context.labelsRead.includes(label)) continue;
      const readable = [...new Set([...required, ...context.labelsRead])].sort();
      problems.push({
        path: formatPath(path),
        message: `placeholder {{ labels.${label} }}: no matcher of this rule requires the label "${label}" and its playbook does not read it, so a matching alert may lack it (usable: ${readable.join(', ') || 'none'})`,
      });
    }
  };
  checkQuery(rule.precheck, at('precheck'));
  const verify = rule.verify;
  if (typeof verify === 'object' && verify !== null && !Array.isArray(verify)) {
    const v = verify as Record<string, unknown>;
    checkQuery(v.query, at('verify', 'query'));
    if (v.query === undefined && !context.hasAlertmanager) {
      problems.push({ path: formatPath(at('verify')), message: 'without a query, verify asks Alertmanager whether the alert still fires: set alertmanager.url, or give verify.query' });
    }
    if (v.silence === true && !context.hasAlertmanager) {
      problems.push({ path: formatPath(at('verify', 'silence')), message: 'needs alertmanager.url to create the silence' });
    }
  }
  return problems;
}

/**
 * Labels every alert matching these matchers must carry (a missing label matches as ""): `=` a
 * non-empty value, `!=""`, `=~` a regex that does not match "", `!~` one that does.
 */
function requiredLabels(matchers: unknown): Set<string> {
  const labels = new Set<string>();
  if (!Array.isArray(matchers)) return labels;
  for (const text of matchers) {
    let matcher: Matcher;
    try {
      matcher = parseMatcher(String(text));
    } catch {
      continue;
    }
    if (matcher.operator === '=' && matcher.value !== '') labels.add(matcher.name);
    if (matcher.operator === '!=' && matcher.value === '') labels.add(matcher.name);
    if (matcher.operator === '=~' && matcher.regex && !matcher.regex.test('')) labels.add(matcher.name);
    if (matcher.operator === '!~' && matcher.regex?.test('')) labels.add(matcher.name);
  }
  return labels;
}
