import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { isIPv6 } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { PermanentError } from '../domain/errors.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface LoadKubeConfigOptions {
  /** Explicit kubeconfig path (`kubernetes.kubeconfig`); when set, nothing else is tried. */
  kubeconfig?: string;
  /** Context to use instead of the file's current-context. */
  context?: string;
  env: NodeJS.ProcessEnv;
  /** Where the in-cluster service account is mounted; tests point this elsewhere. */
  serviceAccountDir?: string;
}

export interface LoadedKubeConfig {
  kc: k8s.KubeConfig;
  /** Human-readable origin, e.g. `kubeconfig file /etc/kube/config (context prod-gpu)`. */
  source: string;
}

/** Thrown when no kubeconfig is usable; the message lists everything that was tried. */
export class KubeConfigError extends PermanentError {}

function refuse(tried: string[], problem: string): never {
  const lines = tried.map((line) => `  - ${line}`).join('\n');
  throw new KubeConfigError(
    `no usable Kubernetes configuration: ${problem}\ntried:\n${lines}\n` +
      'set kubernetes.kubeconfig, KUBECONFIG, or run in a pod with a service account ' +
      '(Remediator never falls back to http://localhost:8080)',
  );
}

function readKubeconfigFile(file: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  // FILTER: an unrelated broken entry must not hide the one the selected context uses;
  // the selected context is validated below.
  kc.loadFromString(readFileSync(file, 'utf8'), { onInvalidEntry: 'filter' });
  kc.makePathsAbsolute(dirname(file));
  return kc;
}

/** kubectl's merge rule for KUBECONFIG lists: the first file to define a name wins. */
function mergeFiles(configs: k8s.KubeConfig[]): k8s.KubeConfig {
  const clusters = new Map<string, k8s.Cluster>();
  const users = new Map<string, k8s.User>();
  const contexts = new Map<string, k8s.Context>();
  let currentContext = '';
  for (const kc of configs) {
    for (const cluster of kc.clusters) if (!clusters.has(cluster.name)) clusters.set(cluster.name, cluster);
    for (const user of kc.users) if (!users.has(user.name)) users.set(user.name, user);
    for (const context of kc.contexts) if (!contexts.has(context.name)) contexts.set(context.name, context);
    if (!currentContext && kc.currentContext) currentContext = kc.currentContext;
  }
  const merged = new k8s.KubeConfig();
  merged.loadFromOptions({
    clusters: [...clusters.values()],
    users: [...users.values()],
    contexts: [...contexts.values()],
    currentContext,
  });
  return merged;
}

/** Checks the selected context the way kubectl would, before anything talks to a cluster. */
function selectContext(kc: k8s.KubeConfig, context: string | undefined, what: string, tried: string[]): string {
  const names = kc.contexts.map((c) => c.name);
  const available = names.length > 0 ? `available contexts: ${names.join(', ')}` : 'it defines no contexts';
  if (context !== undefined) {
    if (!kc.getContextObject(context)) refuse(tried, `${what}: context "${context}" not found (${available})`);
    kc.setCurrentContext(context);
  } else if (!kc.currentContext) {
    refuse(tried, `${what}: no current-context and no context configured (${available})`);
  }
  const selected = kc.getContextObject(kc.getCurrentContext());
  if (!selected) refuse(tried, `${what}: current-context "${kc.currentContext}" not found (${available})`);
  const cluster = kc.getCluster(selected.cluster);
  if (!cluster) refuse(tried, `${what}: context "${selected.name}" refers to cluster "${selected.cluster}", which is not defined or has no server`);
  if (!cluster.server) refuse(tried, `${what}: cluster "${cluster.name}" has no server`);
  if (selected.user && !kc.getUser(selected.user)) {
    refuse(tried, `${what}: context "${selected.name}" refers to user "${selected.user}", which is not defined`);
  }
  return selected.name;
}

function expandHome(file: string, home: string | undefined): string {
  if (home && (file === '~' || file.startsWith('~/'))) return join(home, file.slice(1));
  return isAbsolute(file) ? file : resolve(file);
}

function loadInCluster(env: NodeJS.ProcessEnv, dir: string, host: string): k8s.KubeConfig {
  const port = env.KUBERNETES_SERVICE_PORT || '443';
  // Same scheme rule as client-node's loadFromCluster, but from the env we were given.
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  const server = `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'inCluster', server, caFile: join(dir, 'ca.crt'), skipTLSVerify: false }],
    // The tokenFile provider re-reads the projected token, which the kubelet rotates.
    users: [{ name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile: join(dir, 'token') } } }],
    contexts: [{ name: 'inClusterContext', cluster: 'inCluster', user: 'inClusterUser' }],
    currentContext: 'inClusterContext',
  });
  return kc;
}

function loadFiles(files: string[], label: string, opts: LoadKubeConfigOptions, tried: string[]): LoadedKubeConfig {
  const configs: k8s.KubeConfig[] = [];
  for (const file of files) {
    try {
      configs.push(readKubeconfigFile(file));
    } catch (err) {
      refuse(tried, `${label}: cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const kc = configs.length === 1 ? configs[0]! : mergeFiles(configs);
  const context = selectContext(kc, opts.context, label, tried);
  return { kc, source: `${label} (context ${context})` };
}

/**
 * Finds the cluster to act on: an explicit kubeconfig path; else the in-cluster service account;
 * else `$KUBECONFIG` (a path list, merged like kubectl; if it is set, `~/.kube/config` is not
 * consulted, so a missing file never silently redirects us to another cluster); else
 * `~/.kube/config`. Nothing usable → KubeConfigError, never client-node's localhost fallback.
 */
export function loadKubeConfig(opts: LoadKubeConfigOptions): LoadedKubeConfig {
  const { env } = opts;
  const home = env.HOME || env.USERPROFILE || (env === process.env ? homedir() : undefined);
  const tried: string[] = [];

  if (opts.kubeconfig) {
    const file = expandHome(opts.kubeconfig, home);
    tried.push(`kubernetes.kubeconfig: ${file}`);
    if (!existsSync(file)) refuse(tried, `kubeconfig file ${file} does not exist`);
    return loadFiles([file], `kubeconfig file ${file}`, opts, tried);
  }

  const saDir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const tokenFile = join(saDir, 'token');
  const host = env.KUBERNETES_SERVICE_HOST;
  const hasToken = existsSync(tokenFile);
  if (hasToken && host) {
    tried.push(`in-cluster service account (${tokenFile}, KUBERNETES_SERVICE_HOST=${host})`);
    if (opts.context !== undefined) {
      refuse(tried, `kubernetes.context "${opts.context}" was set, but the in-cluster service account has no contexts; set kubernetes.kubeconfig too`);
    }
    return { kc: loadInCluster(env, saDir, host), source: `in-cluster service account (${host})` };
  }
  tried.push(
    `in-cluster service account: ${hasToken ? 'token present' : `no ${tokenFile}`}, ` +
      `${host ? `KUBERNETES_SERVICE_HOST=${host}` : 'KUBERNETES_SERVICE_HOST not set'}`,
  );

  const list = env.KUBECONFIG;
  if (list) {
    const paths = list.split(delimiter).filter((p) => p.length > 0).map((p) => expandHome(p, home));
    const present = paths.filter((p) => existsSync(p));
    tried.push(`$KUBECONFIG=${list}${present.length < paths.length ? ` (missing: ${paths.filter((p) => !present.includes(p)).join(', ')})` : ''}`);
    if (present.length === 0) refuse(tried, `none of the files in $KUBECONFIG exist`);
    return loadFiles(present, `$KUBECONFIG ${present.join(delimiter)}`, opts, tried);
  }
  tried.push('$KUBECONFIG: not set');

  if (!home) refuse(tried, 'no home directory ($HOME not set), so ~/.kube/config cannot be located');
  const defaultFile = join(home, '.kube', 'config');
  tried.push(`~/.kube/config: ${defaultFile}`);
  if (!existsSync(defaultFile)) refuse(tried, `${defaultFile} does not exist`);
  return loadFiles([defaultFile], `kubeconfig file ${defaultFile}`, opts, tried);
}
