import { describe, expect, it } from 'vitest';
import { parseMatcher } from '../../../src/alertmanager/matcher.js';
import { matchRules } from '../../../src/alertmanager/rule-matcher.js';

function rule(name: string, matchers: string[], cont = false) {
  return { name, matchers: matchers.map(parseMatcher), continue: cont };
}

const names = (rules: { name: string }[]) => rules.map((r) => r.name);

describe('matchRules', () => {
  const gpu = { alertname: 'GPUNodeOverheating', node: 'gpu-node-3', severity: 'critical' };

  it('lets the first matching rule decide', () => {
    const rules = [
      rule('other', ['alertname="KubePodOOMKilled"']),
      rule('first', ['alertname="GPUNodeOverheating"']),
      rule('second', ['severity="critical"']),
    ];
    expect(names(matchRules(rules, gpu))).toEqual(['first']);
  });

  it('tries later rules after a matching rule with continue: true', () => {
    const rules = [
      rule('audit-all-critical', ['severity="critical"'], true),
      rule('drain', ['alertname="GPUNodeOverheating"']),
      rule('never-reached', ['node=~"gpu-.*"']),
    ];
    expect(names(matchRules(rules, gpu))).toEqual(['audit-all-critical', 'drain']);
  });

  it('chains several continue rules and keeps config order', () => {
    const rules = [
      rule('a', ['severity="critical"'], true),
      rule('b', ['node=~"gpu-.*"'], true),
      rule('c', ['alertname="GPUNodeOverheating"'], true),
    ];
    expect(names(matchRules(rules, gpu))).toEqual(['a', 'b', 'c']);
  });

  it('ignores continue on rules that do not match', () => {
    const rules = [
      rule('skipped', ['alertname="KubePodOOMKilled"'], true),
      rule('drain', ['alertname="GPUNodeOverheating"']),
      rule('after', ['severity="critical"']),
    ];
    expect(names(matchRules(rules, gpu))).toEqual(['drain']);
  });

  it('needs every matcher of a rule to fit', () => {
    const rules = [rule('warning-gpu', ['alertname="GPUNodeOverheating"', 'severity="warning"']), rule('any-gpu', ['alertname="GPUNodeOverheating"'])];
    expect(names(matchRules(rules, gpu))).toEqual(['any-gpu']);
  });

  it('returns nothing when no rule matches (the alert is unmatched)', () => {
    expect(matchRules([rule('oom', ['alertname="KubePodOOMKilled"'])], gpu)).toEqual([]);
    expect(matchRules([], gpu)).toEqual([]);
  });
});
