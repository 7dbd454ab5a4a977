import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { ConfigError, type ConfigProblem } from './config-error.js';
import type { LoadedConfig } from './loaded-config.js';

/** Which Kubernetes credentials `serve` will use; the composition root does the loading. */
export type KubeSource =
  | { kind: 'kubeconfig'; path: string }
  | { kind: 'in-cluster'; tokenPath: string }
  | { kind: 'KUBECONFIG'; paths: string[] }
  | { kind: 'home'; path: string };

export interface ServeReadyOptions {
  env?: NodeJS.ProcessEnv;
  homeDir?: string;
  exists?: (path: string) => boolean;
}

export const IN_CLUSTER_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * What `serve` needs beyond a valid file (`validate` does not require these): the audit HMAC key
 * file, the Prometheus and Alertmanager secret and TLS files, notification URLs and secrets, and
 * Kubernetes credentials in this order — `kubernetes.kubeconfig`, the in-cluster
 * service account, `$KUBECONFIG`, `~/.kube/config`. There is deliberately no localhost fallback:
 * acting on whatever cluster happens to answer on 127.0.0.1 would be the opposite of "do no harm".
 */
export function assertServeReady(config: LoadedConfig, options: ServeReadyOptions = {}): { kube: KubeSource } {
  const env = options.env ?? process.env;
  const exists = options.exists ?? existsSync;
  const problems: ConfigProblem[] = [];

  if (config.audit.keyFile === undefined) {
    problems.push({ path: 'audit.keyFile', message: 'Required by serve (the HMAC key of the audit chain)' });
  } else if (!exists(config.audit.keyFile)) {
    problems.push({ path: 'audit.keyFile', message: `file not found: ${config.audit.keyFile}` });
  }

  // Monitoring secrets are read at every request (so rotation works); a missing one is a typo to catch now.
  for (const key of ['prometheus', 'alertmanager'] as const) {
    const endpoint = config[key];
    if (!endpoint) continue;
    const files: [string, string | undefined][] = [
      ['bearerTokenFile', endpoint.bearerTokenFile],
      ['basicAuth.passwordFile', endpoint.basicAuth?.passwordFile],
      ['tls.caFile', endpoint.tls?.caFile],
      ['tls.certFile', endpoint.tls?.certFile],
      ['tls.keyFile', endpoint.tls?.keyFile],
    ];
    for (const [path, file] of files) if (file !== undefined && !exists(file)) problems.push({ path: `${key}.${path}`, message: `file not found: ${file}` });
  }

  // Notification URLs and secrets are read at every send; one missing now would only show up as dead letters.
  config.notifications.forEach((channel, i) => {
    const at = `notifications[${i}]`;
    for (const key of ['urlFile', 'secretFile'] as const) {
      const file = channel[key];
      if (file !== undefined && !exists(file)) problems.push({ path: `${at}.${key}`, message: `file not found: ${file}` });
    }
    for (const key of ['urlEnv', 'secretEnv'] as const) {
      const name = channel[key];
      if (name !== undefined && !env[name]) problems.push({ path: `${at}.${key}`, message: `environment variable ${name} is not set` });
    }
  });

  const kube = findKubeSource(config, env, exists, options.homeDir ?? homedir(), problems);
  if (problems.length > 0 || !kube) throw new ConfigError(config.source, problems);
  return { kube };
}

function findKubeSource(
  config: LoadedConfig,
  env: NodeJS.ProcessEnv,
  exists: (path: string) => boolean,
  home: string,
  problems: ConfigProblem[],
): KubeSource | undefined {
  const configured = config.kubernetes.kubeconfig;
  if (configured !== undefined) {
    if (exists(configured)) return { kind: 'kubeconfig', path: configured };
    problems.push({ path: 'kubernetes.kubeconfig', message: `file not found: ${configured}` });
    return undefined;
  }
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && exists(IN_CLUSTER_TOKEN_PATH)) {
    return { kind: 'in-cluster', tokenPath: IN_CLUSTER_TOKEN_PATH };
  }
  if (env.KUBECONFIG) {
    const paths = env.KUBECONFIG.split(delimiter).filter((p) => p !== '');
    if (paths.some((p) => exists(p))) return { kind: 'KUBECONFIG', paths };
    problems.push({ path: 'KUBECONFIG (environment)', message: `none of these files exists: ${paths.join(', ')}` });
    return undefined;
  }
  const fallback = join(home, '.kube', 'config');
  if (exists(fallback)) return { kind: 'home', path: fallback };
  problems.push({
    path: 'kubernetes',
    message: `no Kubernetes credentials: set kubernetes.kubeconfig, run in a cluster, set KUBECONFIG, or provide ${fallback}`,
  });
  return undefined;
}
