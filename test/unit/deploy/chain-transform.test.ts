/**
 * The chain test's one mechanical transformation (test/helpers/chain-config.ts) changes only
 * durations (÷ 60) and discovery (kubernetes_sd → file_sd): everything else of the shipped
 * rules, Alertmanager config, scrape jobs and example rules reaches the chain test unchanged.
 * And the scrape file and the prometheus-operator monitors carry the same relabelling.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { DURATION, TIME_FACTOR, durationMs, scaleAlertmanagerTimers, scaleRemediatorRules, scaleRuleFile, scrapeJobsWithFileSd } from '../../helpers/chain-config.js';

const read = (path: string): string => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');
const OFFSET = /\boffset\s+((?:\d+(?:ms|s|m|h|d|w|y))+)/g;
const RANGE = /\[((?:\d+(?:ms|s|m|h|d|w|y))+)(?::((?:\d+(?:ms|s|m|h|d|w|y))+)?)?\]/g;

/** Fails unless `after` is `before` with each duration (a value, or a PromQL range) divided by the factor; returns how many were. */
function sameButScaled(before: unknown, after: unknown, path = '$'): number {
  if (typeof before === 'string' && typeof after === 'string') {
    if (DURATION.test(before)) {
      expect(Math.abs(durationMs(after) - durationMs(before) / TIME_FACTOR), path).toBeLessThanOrEqual(1);
      return 1;
    }
    const ranges = [...before.matchAll(RANGE)];
    const offsets = [...before.matchAll(OFFSET)];
    expect(after.replace(RANGE, '[]').replace(OFFSET, 'offset'), path).toBe(before.replace(RANGE, '[]').replace(OFFSET, 'offset'));
    const scaled = [...after.matchAll(RANGE)];
    ranges.forEach((m, i) => {
      expect(durationMs(scaled[i]![1]!), path).toBe(durationMs(m[1]!) / TIME_FACTOR);
      if (m[2]) expect(durationMs(scaled[i]![2]!), path).toBe(durationMs(m[2]) / TIME_FACTOR);
    });
    const scaledOffsets = [...after.matchAll(OFFSET)];
    offsets.forEach((m, i) => expect(durationMs(scaledOffsets[i]![1]!), path).toBe(durationMs(m[1]!) / TIME_FACTOR));
    return ranges.length + offsets.length;
  }
  if (Array.isArray(before)) {
    expect(Array.isArray(after) && after.length, path).toBe(before.length);
    return before.reduce((n: number, b, i) => n + sameButScaled(b, (after as unknown[])[i], `${path}[${i}]`), 0);
  }
  if (before && typeof before === 'object') {
    expect(Object.keys(after as object), path).toEqual(Object.keys(before));
    return Object.entries(before).reduce((n, [k, v]) => n + sameButScaled(v, (after as Record<string, unknown>)[k], `${path}.${k}`), 0);
  }
  expect(after, path).toEqual(before);
  return 0;
}

describe('the chain test sees the shipped files with only durations and discovery changed', () => {
  it('rules.yml: every for and range window ÷ 60, nothing else', () => {
    const text = read('deploy/prometheus/rules.yml');
    const scaled = sameButScaled(parse(text), parse(scaleRuleFile(text)));
    expect(scaled).toBeGreaterThan(20);
  });

  it('alertmanager.yml: the timers ÷ 60; the receiver URL and token file are the only other edits, made by the test', () => {
    const config = parse(read('deploy/alertmanager/alertmanager.yml')) as Record<string, any>;
    expect(sameButScaled(config, scaleAlertmanagerTimers(config))).toBe(7);
  });

  it("the example's rules: durations and PromQL windows ÷ 60", () => {
    const rules = (parse(read('remediator.example.yaml')) as { rules: Record<string, any>[] }).rules;
    expect(sameButScaled(rules, scaleRemediatorRules(rules))).toBeGreaterThan(8);
  });

  it('scrape-kubernetes.yml: kubernetes_sd_configs becomes file_sd_configs in place; relabelling untouched', () => {
    const text = read('deploy/prometheus/scrape-kubernetes.yml');
    const jobs = (parse(text) as { scrape_configs: Record<string, any>[] }).scrape_configs;
    const swapped = scrapeJobsWithFileSd(text, mkdtempSync(join(tmpdir(), 'chain-sd-')), {});
    expect(swapped.map((j) => j.job_name)).toEqual(jobs.map((j) => j.job_name));
    jobs.forEach((job, i) => {
      const out = swapped[i]!;
      expect(Object.keys(out)).toEqual(Object.keys(job).map((k) => (k === 'kubernetes_sd_configs' ? 'file_sd_configs' : k)));
      const { kubernetes_sd_configs: _sd, ...rest } = job;
      const { file_sd_configs: _file, ...restOut } = out;
      expect(restOut).toEqual(rest);
    });
  });
});

describe('scrape-kubernetes.yml and deploy/prometheus-operator/monitors.yaml say the same', () => {
  const jobs = (parse(read('deploy/prometheus/scrape-kubernetes.yml')) as { scrape_configs: Record<string, any>[] }).scrape_configs;
  const monitors = parseAllDocuments(read('deploy/prometheus-operator/monitors.yaml')).map((d) => d.toJS() as Record<string, any>);
  const camel = (rule: Record<string, unknown>) => Object.fromEntries(Object.entries(rule).map(([k, v]) => [k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()), v]));

  it.each(['dcgm-exporter', 'nvidia-gpu-exporter', 'kube-state-metrics', 'llm-serving'])('%s: every relabel rule but the keeps (selectors there) is in the monitor', (name) => {
    const job = jobs.find((j) => j.job_name === name)!;
    const monitor = monitors.find((m) => m.metadata.name === name)!;
    expect(monitor, name).toBeDefined();
    const endpoint = (monitor.spec.podMetricsEndpoints ?? monitor.spec.endpoints)[0];
    const wanted = (job.relabel_configs ?? []).filter((r: { action?: string }) => r.action !== 'keep').map(camel);
    expect(endpoint.relabelings ?? []).toEqual(wanted);
    expect(Boolean(endpoint.honorLabels)).toBe(Boolean(job.honor_labels));
  });
});
