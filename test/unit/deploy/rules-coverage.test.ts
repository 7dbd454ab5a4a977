/**
 * deploy/prometheus/rules.test.yml (run by `promtool test rules` in deploy-files.test.ts) covers
 * every alert of deploy/prometheus/rules.yml: each alerting rule has a case where it fires, and
 * each alertname a case where it must not (`exp_alerts: []`, or none given, at some eval_time).
 * promtool itself passes a test file that never mentions an alert, and passes `exp_alerts: []`
 * for an alertname that does not exist, so both are checked here from the YAML alone (no promtool
 * needed).
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { read, type Doc } from '../../helpers/deploy-files.js';

interface AlertRule {
  alert: string;
  labels: Record<string, string>;
}

/** A readable name of a rule: its alertname and the static labels beyond severity. */
const ruleName = (r: AlertRule) => {
  const extra = Object.entries(r.labels).filter(([k]) => k !== 'severity');
  return extra.length === 0 ? r.alert : `${r.alert}{${extra.map(([k, v]) => `${k}="${v}"`).join(', ')}}`;
};

function alertRules(rules: Doc): AlertRule[] {
  return (rules.groups as Doc[])
    .flatMap((g) => g.rules as Doc[])
    .filter((r) => typeof r.alert === 'string')
    .map((r) => ({ alert: String(r.alert), labels: Object.fromEntries(Object.entries((r.labels ?? {}) as Doc).map(([k, v]) => [k, String(v)])) }));
}

interface Case {
  alertname: string;
  evalTime: string;
  expected: Record<string, string>[];
}

function cases(tests: Doc): Case[] {
  return ((tests.tests ?? []) as Doc[]).flatMap((t) =>
    ((t.alert_rule_test ?? []) as Doc[]).map((c) => ({
      alertname: String(c.alertname),
      evalTime: String(c.eval_time),
      expected: ((c.exp_alerts ?? []) as Doc[]).map((a) =>
        Object.fromEntries(Object.entries((a.exp_labels ?? {}) as Doc).map(([k, v]) => [k, String(v)])),
      ),
    })),
  );
}

/** The rule an expected alert comes from: same alertname, static labels all present, the most specific. */
function ruleOf(rules: AlertRule[], alertname: string, labels: Record<string, string>): AlertRule | undefined {
  return rules
    .filter((r) => r.alert === alertname && Object.entries(r.labels).every(([k, v]) => labels[k] === v))
    .sort((a, b) => Object.keys(b.labels).length - Object.keys(a.labels).length)[0];
}

/** What rules.test.yml lacks for rules.yml, in words; `[]` when every alert is covered. */
function gaps(rulesDoc: Doc, testsDoc: Doc): string[] {
  const rules = alertRules(rulesDoc);
  const all = cases(testsDoc);
  const out: string[] = [];
  if (!((testsDoc.rule_files ?? []) as string[]).includes('rules.yml')) out.push('rule_files does not load rules.yml');
  const alertnames = new Set(rules.map((r) => r.alert));
  for (const c of all) {
    if (!alertnames.has(c.alertname)) out.push(`a case at ${c.evalTime} tests ${c.alertname}, which rules.yml does not define`);
    for (const labels of c.expected) {
      if (alertnames.has(c.alertname) && !ruleOf(rules, c.alertname, labels)) {
        out.push(`${c.alertname} at ${c.evalTime}: no rule has the labels ${JSON.stringify(labels)}`);
      }
    }
  }
  const fired = new Set<AlertRule>();
  for (const c of all) for (const labels of c.expected) {
    const rule = ruleOf(rules, c.alertname, labels);
    if (rule) fired.add(rule);
  }
  for (const rule of rules) if (!fired.has(rule)) out.push(`${ruleName(rule)}: no case where it fires`);
  for (const alertname of alertnames) {
    if (!all.some((c) => c.alertname === alertname && c.expected.length === 0)) out.push(`${alertname}: no case where it does not fire (exp_alerts: [])`);
  }
  return out;
}

const RULES = parse(read('deploy/prometheus/rules.yml')) as Doc;
const TESTS = parse(read('deploy/prometheus/rules.test.yml')) as Doc;

describe('rules.test.yml covers every alert of rules.yml', () => {
  it('every alerting rule has a firing case, every alertname a not-firing case, and no case names an unknown alert', () => {
    expect(alertRules(RULES).length).toBeGreaterThanOrEqual(20);
    expect(gaps(RULES, TESTS)).toEqual([]);
  });

  it('the check fails when a case is missing, misnamed or never fires (broken copies)', () => {
    const withoutCases = (drop: (c: Doc) => boolean): Doc => {
      const copy = structuredClone(TESTS);
      for (const t of copy.tests as Doc[]) t.alert_rule_test = ((t.alert_rule_test ?? []) as Doc[]).filter((c) => !drop(c));
      return copy;
    };
    expect(gaps(RULES, withoutCases((c) => c.alertname === 'RemediatorApiDown' && (c.exp_alerts ?? []).length > 0))).toEqual([
      'RemediatorApiDown: no case where it fires',
    ]);
    expect(gaps(RULES, withoutCases((c) => c.alertname === 'LLMRequestSaturation' && (c.exp_alerts ?? []).length === 0))).toEqual([
      'LLMRequestSaturation: no case where it does not fire (exp_alerts: [])',
    ]);
    // The nvidia_gpu_exporter rule of GPUNodeOverheating is told apart by its `exporter` label.
    const noNvidia = structuredClone(TESTS);
    for (const t of noNvidia.tests as Doc[]) {
      for (const c of (t.alert_rule_test ?? []) as Doc[]) c.exp_alerts = ((c.exp_alerts ?? []) as Doc[]).filter((a) => a.exp_labels?.exporter === undefined);
    }
    expect(gaps(RULES, noNvidia)).toEqual(['GPUNodeOverheating{exporter="nvidia_gpu_exporter"}: no case where it fires']);
    // A misspelt alertname passes promtool with exp_alerts: [] (nothing by that name ever fires).
    const misspelt = structuredClone(TESTS);
    (misspelt.tests as Doc[])[0]!.alert_rule_test.push({ eval_time: '1m', alertname: 'GPUNodeOverheat', exp_alerts: [] });
    expect(gaps(RULES, misspelt)).toEqual(['a case at 1m tests GPUNodeOverheat, which rules.yml does not define']);
  });

  it('GPUNodeOverheating is tested with both DCGM host labels, node from relabelling, and nvidia_gpu_exporter with and without DCGM on the node', () => {
    const series = ((TESTS.tests ?? []) as Doc[]).flatMap((t) => ((t.input_series ?? []) as Doc[]).map((s) => String(s.series)));
    const dcgm = series.filter((s) => s.startsWith('DCGM_FI_DEV_GPU_TEMP{'));
    const nvidia = series.filter((s) => s.startsWith('nvidia_smi_temperature_gpu{'));
    const node = (s: string) => /\bnode="([^"]+)"/.exec(s)?.[1];
    // Every GPU series carries `node`, as the scrape config adds it.
    for (const s of [...dcgm, ...nvidia]) expect(node(s), s).toBeDefined();
    expect(dcgm.some((s) => /[{ ,]Hostname="/.test(s))).toBe(true);
    expect(dcgm.some((s) => /[{ ,]hostname="/.test(s))).toBe(true);
    const dcgmNodes = new Set(dcgm.map(node));
    expect(nvidia.some((s) => dcgmNodes.has(node(s))), 'an nvidia_gpu_exporter node that DCGM also reports (unless)').toBe(true);
    expect(nvidia.some((s) => !dcgmNodes.has(node(s))), 'an nvidia_gpu_exporter-only node').toBe(true);
  });
});
