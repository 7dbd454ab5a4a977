/**
 * The one mechanical transformation that lets the end-to-end chain test run the shipped
 * monitoring files in seconds instead of hours (docs/operations.md "Scraping", test/e2e/chain.test.ts):
 *
 * - time: every duration in the rules (`for:`, range selectors `[5m]`, subqueries `[10m:1m]`), in
 *   Alertmanager's timers and in Remediator's rule durations is divided by TIME_FACTOR;
 * - discovery: each scrape job's `kubernetes_sd_configs` is replaced by `file_sd_configs` whose
 *   targets carry the `__meta_kubernetes_*` labels Kubernetes discovery would give.
 *
 * Nothing else changes; test/unit/deploy/chain-transform.test.ts checks that by undoing it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

export const TIME_FACTOR = 60;

const UNITS: [string, number][] = [
  ['ms', 1],
  ['s', 1000],
  ['m', 60_000],
  ['h', 3_600_000],
  ['d', 86_400_000],
  ['w', 604_800_000],
  ['y', 31_536_000_000],
];
export const DURATION = /^(?:\d+(?:ms|s|m|h|d|w|y))+$/;

export function durationMs(text: string): number {
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) total += Number(n) * UNITS.find(([u]) => u === unit)![1];
  return total;
}

function fromMs(ms: number): string {
  for (const [unit, size] of [...UNITS].reverse()) if (ms % size === 0 && ms >= size) return `${ms / size}${unit}`;
  return `${Math.max(1, Math.round(ms))}ms`;
}

/** `2m` → `2s` with the default factor; a duration in a YAML value or PromQL range. */
export function scaleDuration(text: string, factor = TIME_FACTOR): string {
  if (!DURATION.test(text)) throw new Error(`not a duration: ${text}`);
  return fromMs(durationMs(text) / factor);
}

/** Range selectors, subqueries and offsets in PromQL: `[5m]`, `[10m:1m]`, `[1h:]`, `offset 15m`. */
export function scalePromqlRanges(expr: string, factor = TIME_FACTOR): string {
  const d = '(?:\\d+(?:ms|s|m|h|d|w|y))+';
  return expr
    .replace(new RegExp(`\\[(${d})(?:(:)(${d})?)?\\]`, 'g'), (_m, range: string, colon: string | undefined, step: string | undefined) =>
      `[${scaleDuration(range, factor)}${colon ? `:${step ? scaleDuration(step, factor) : ''}` : ''}]`,
    )
    .replace(new RegExp(`\\boffset\\s+(${d})`, 'g'), (_m, by: string) => `offset ${scaleDuration(by, factor)}`);
}

interface RuleFile {
  groups: { name: string; interval?: string; rules: { alert?: string; record?: string; expr: string; for?: string; labels?: object; annotations?: object }[] }[];
}

/** rules.yml with every `for:` and range window divided by the factor. */
export function scaleRuleFile(text: string, factor = TIME_FACTOR): string {
  const file = parse(text) as RuleFile;
  for (const group of file.groups) {
    if (group.interval) group.interval = scaleDuration(group.interval, factor);
    for (const rule of group.rules) {
      rule.expr = scalePromqlRanges(rule.expr, factor);
      if (rule.for) rule.for = scaleDuration(rule.for, factor);
    }
  }
  return stringify(file);
}

/** Alertmanager's config with every route timer and resolve_timeout divided by the factor. */
export function scaleAlertmanagerTimers(config: Record<string, any>, factor = TIME_FACTOR): Record<string, any> {
  const copy = structuredClone(config);
  if (copy.global?.resolve_timeout) copy.global.resolve_timeout = scaleDuration(copy.global.resolve_timeout, factor);
  const walk = (route: Record<string, any>): void => {
    for (const key of ['group_wait', 'group_interval', 'repeat_interval']) if (route[key]) route[key] = scaleDuration(route[key], factor);
    for (const child of route.routes ?? []) walk(child);
  };
  walk(copy.route);
  return copy;
}

/** Remediator rules (remediator.yaml `rules:`) with their durations and PromQL windows divided by the factor. */
export function scaleRemediatorRules(rules: Record<string, any>[], factor = TIME_FACTOR): Record<string, any>[] {
  const scaleValue = (v: unknown): unknown => (typeof v === 'string' && DURATION.test(v) ? scaleDuration(v, factor) : v);
  return structuredClone(rules).map((rule) => {
    if (rule.cooldown) rule.cooldown = scaleValue(rule.cooldown);
    if (typeof rule.precheck === 'string') rule.precheck = scalePromqlRanges(rule.precheck, factor);
    if (rule.verify) {
      for (const key of ['within', 'interval']) if (rule.verify[key]) rule.verify[key] = scaleValue(rule.verify[key]);
      if (typeof rule.verify.query === 'string') rule.verify.query = scalePromqlRanges(rule.verify.query, factor);
    }
    if (rule.escalate?.afterRepeats?.within) rule.escalate.afterRepeats.within = scaleValue(rule.escalate.afterRepeats.within);
    return rule;
  });
}

export interface FileSdGroup {
  targets: string[];
  labels: Record<string, string>;
}

/**
 * The shipped scrape jobs with `kubernetes_sd_configs` swapped for `file_sd_configs`: one JSON
 * file per job in `dir` holding `groups[job]` (jobs without groups get an empty file).
 */
export function scrapeJobsWithFileSd(text: string, dir: string, groups: Record<string, FileSdGroup[]>): Record<string, any>[] {
  const jobs = (parse(text) as { scrape_configs: Record<string, any>[] }).scrape_configs;
  return jobs.map((job) => {
    const { kubernetes_sd_configs: sd, ...rest } = job;
    if (!sd) return job;
    const file = join(dir, `${job.job_name}.json`);
    writeFileSync(file, JSON.stringify(groups[job.job_name] ?? []));
    const out: Record<string, any> = {};
    // Keep the key order of the job, with file_sd where kubernetes_sd was.
    for (const key of Object.keys(job)) {
      if (key === 'kubernetes_sd_configs') out.file_sd_configs = [{ files: [file], refresh_interval: '1s' }];
      else out[key] = rest[key];
    }
    return out;
  });
}
