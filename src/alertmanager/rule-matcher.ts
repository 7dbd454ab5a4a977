import { matchesAll, type Matcher } from './matcher.js';

/** The part of a rule that routing needs. */
export interface RoutableRule {
  readonly matchers: readonly Matcher[];
  readonly continue: boolean;
}

/**
 * The rules that apply to an alert, in config order, with Alertmanager routing semantics: the
 * first matching rule decides, and only a matching rule with `continue: true` lets later rules
 * be tried too. A non-matching rule's `continue` is irrelevant, as in Alertmanager.
 */
export function matchRules<R extends RoutableRule>(rules: readonly R[], labels: Readonly<Record<string, string>>): R[] {
  const matched: R[] = [];
  for (const rule of rules) {
    if (!matchesAll(rule.matchers, labels)) continue;
    matched.push(rule);
    if (!rule.continue) break;
  }
  return matched;
}
