/**
 * A kubeconfig for the sim that both `@kubernetes/client-node` and kubectl accept: the server is
 * plain http, which client-node only allows with `insecure-skip-tls-verify: true`.
 */
import { stringify } from 'yaml';

export const SIM_DEFAULT_TOKEN = 'sim-token';

export function simKubeconfigYaml(url: string, token: string = SIM_DEFAULT_TOKEN): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'sim', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'sim', user: { token } }],
    contexts: [{ name: 'sim', context: { cluster: 'sim', user: 'sim', namespace: 'default' } }],
    'current-context': 'sim',
    preferences: {},
  });
}
