/**
 * Helpers for tests that talk to the simulated cluster over HTTP: raw requests with Status
 * parsing, client-node clients, a kubectl runner and polling with a deadline.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { SimCluster } from '../../src/sim/sim-cluster.js';

export interface RawResponse {
  status: number;
  contentType: string | null;
  text: string;
  body: any;
}

/** One request to the sim; `body` objects are sent as JSON unless `raw` text is given. */
export async function kube(
  sim: SimCluster,
  method: string,
  path: string,
  opts: { body?: unknown; raw?: string; contentType?: string; token?: string | null; accept?: string } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? 'sim-token' : opts.token;
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  if (opts.accept) headers['accept'] = opts.accept;
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  const res = await fetch(`${sim.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, contentType: res.headers.get('content-type'), text, body: parsed };
}

/** Polls `fn` until it returns something other than undefined, or fails after `timeoutMs`. */
export async function pollUntil<T>(fn: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 5000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Calls `fn` until it stops throwing (a client reconnecting, a server starting); rethrows its last error at the deadline. */
export async function retryUntil<T>(fn: () => Promise<T>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/**
 * Creates a Deployment through the simulated API server (as a client would) and fails unless it is
 * created. `readyDelayMs` sets how long its pods take to turn Ready (sim annotation); `memoryLimit`
 * gives its container (`c`) a memory limit.
 */
export async function createDeployment(
  sim: SimCluster,
  namespace: string,
  name: string,
  opts: { replicas?: number; readyDelayMs?: number; memoryLimit?: string } = {},
): Promise<void> {
  const annotations = opts.readyDelayMs === undefined ? undefined : { 'sim.remediator.dev/ready-delay-ms': String(opts.readyDelayMs) };
  const resources = { requests: { cpu: '5m', memory: '8Mi' }, ...(opts.memoryLimit ? { limits: { memory: opts.memoryLimit } } : {}) };
  const res = await fetch(`${sim.url}/apis/apps/v1/namespaces/${namespace}/deployments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace, labels: { app: name } },
      spec: {
        replicas: opts.replicas ?? 1,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name }, ...(annotations ? { annotations } : {}) }, spec: { containers: [{ name: 'c', image: 'busybox:1.36', resources }] } },
      },
    }),
  });
  if (res.status !== 201) throw new Error(`creating deployment ${namespace}/${name}: ${res.status} ${await res.text()}`);
}

export function kubeConfigFor(sim: SimCluster): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(sim.kubeconfigYaml());
  return kc;
}

export const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/** Status body of a failed client-node call (ApiException.body is the raw JSON text). */
export async function apiFailure(promise: Promise<unknown>): Promise<{ code: number; status: any }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof k8s.ApiException) {
      const body = err.body as unknown;
      return { code: err.code, status: typeof body === 'string' ? JSON.parse(body) : body };
    }
    throw err;
  }
  throw new Error('expected the call to fail');
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlEnv {
  kubeconfig: string;
  home: string;
  /** Removes the temporary directory. */
  dispose(): void;
}

/** A kubeconfig file and an isolated HOME/cache dir so kubectl never reads the user's config. */
export function kubectlEnv(sim: SimCluster): KubectlEnv {
  const dir = mkdtempSync(join(tmpdir(), 'sim-kubectl-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, sim.kubeconfigYaml());
  return { kubeconfig, home: dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

export function kubectl(env: KubectlEnv, args: string[], timeoutMs = 60_000): Promise<KubectlResult> {
  const fullArgs = ['--kubeconfig', env.kubeconfig, '--cache-dir', join(env.home, 'cache'), '--request-timeout=10s', ...args];
  return new Promise((resolve) => {
    execFile(
      'kubectl',
      fullArgs,
      { timeout: timeoutMs, env: { PATH: process.env['PATH'] ?? '', HOME: env.home, KUBECONFIG: env.kubeconfig } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
