/**
 * Runs the real Prometheus binary (Debian's `prometheus`) for end-to-end tests: its own TSDB in a
 * temp dir, listening on a free loopback port, with small helpers for its HTTP API.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { startHttpDaemon, tempDirWith, type DaemonHandle } from './alertmanager-process.js';

export { onPath, runTool } from './alertmanager-process.js';

export const PROMETHEUS_BIN = 'prometheus';
export const PROMTOOL_BIN = 'promtool';

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PromTarget {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

export interface PromRule {
  name: string;
  type: 'alerting' | 'recording';
  health: string;
  lastError?: string;
  state?: string;
}

export interface PrometheusHandle extends DaemonHandle {
  readonly configFile: string;
  /** Instant query; throws on an API error (bad PromQL is a test bug, not "no data"). */
  query(expr: string): Promise<PromSample[]>;
  activeTargets(): Promise<PromTarget[]>;
  ruleGroups(): Promise<{ name: string; file: string; rules: PromRule[] }[]>;
  /** Prometheus' own /metrics text. */
  metrics(): Promise<string>;
}

async function apiData<T>(url: string): Promise<T> {
  const res = await fetch(url);
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (res.status !== 200 || body.status !== 'success') throw new Error(`${url}: ${res.status} ${body.error ?? ''}`);
  return body.data;
}

/**
 * Starts Prometheus. `ruleFiles` are copied into its temp dir under their base names, so the
 * config can list them as `rule_files: [rules.yml]`; `config` gets the dir and returns the YAML.
 */
export async function startPrometheus(opts: { config: (dir: string) => string; ruleFiles?: string[] }): Promise<PrometheusHandle> {
  const dir = tempDirWith('remediator-prom-');
  for (const file of opts.ruleFiles ?? []) copyFileSync(file, join(dir, basename(file)));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, opts.config(dir));
  const daemon = await startHttpDaemon({
    bin: PROMETHEUS_BIN,
    dir,
    args: (port) => [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      '--log.level=info',
    ],
  });
  const url = daemon.url;
  return {
    ...daemon,
    configFile,
    async query(expr) {
      const data = await apiData<{ resultType: string; result: PromSample[] }>(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      if (data.resultType !== 'vector') throw new Error(`query ${expr}: expected a vector, got ${data.resultType}`);
      return data.result;
    },
    async activeTargets() {
      return (await apiData<{ activeTargets: PromTarget[] }>(`${url}/api/v1/targets?state=active`)).activeTargets;
    },
    async ruleGroups() {
      return (await apiData<{ groups: { name: string; file: string; rules: PromRule[] }[] }>(`${url}/api/v1/rules`)).groups;
    },
    async metrics() {
      return (await fetch(`${url}/metrics`)).text();
    },
  };
}
