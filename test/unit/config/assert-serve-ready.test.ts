import { describe, expect, it } from 'vitest';
import { IN_CLUSTER_TOKEN_PATH, assertServeReady } from '../../../src/config/assert-serve-ready.js';
import { ConfigError } from '../../../src/config/config-error.js';
import { validateConfigText } from '../../../src/config/load-config.js';

const NO_PLAYBOOKS = new Map();
const IN_CLUSTER_ENV = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };

function config(yaml: string) {
  return validateConfigText(yaml, '/etc/remediator/remediator.yaml', NO_PLAYBOOKS, { env: {} });
}

const withKey = 'audit: { keyFile: audit-key }\n';
const files = (...paths: string[]) => (path: string) => paths.includes(path);

describe('assertServeReady', () => {
  it('uses kubernetes.kubeconfig first, even inside a cluster', () => {
    const result = assertServeReady(config(`${withKey}kubernetes: { kubeconfig: kube/config }\n`), {
      env: { ...IN_CLUSTER_ENV, KUBECONFIG: '/k' },
      exists: files('/etc/remediator/audit-key', '/etc/remediator/kube/config', IN_CLUSTER_TOKEN_PATH, '/k'),
      homeDir: '/home/op',
    });
    expect(result.kube).toEqual({ kind: 'kubeconfig', path: '/etc/remediator/kube/config' });
  });

  it('then the in-cluster service account', () => {
    const result = assertServeReady(config(withKey), {
      env: { ...IN_CLUSTER_ENV, KUBECONFIG: '/k' },
      exists: files('/etc/remediator/audit-key', IN_CLUSTER_TOKEN_PATH, '/k'),
      homeDir: '/home/op',
    });
    expect(result.kube).toEqual({ kind: 'in-cluster', tokenPath: IN_CLUSTER_TOKEN_PATH });
  });

  it('needs the service account token, not just the env vars, to count as in-cluster', () => {
    const result = assertServeReady(config(withKey), {
      env: { ...IN_CLUSTER_ENV, KUBECONFIG: '/a:/k' },
      exists: files('/etc/remediator/audit-key', '/k'),
      homeDir: '/home/op',
    });
    expect(result.kube).toEqual({ kind: 'KUBECONFIG', paths: ['/a', '/k'] });
  });

  it('then ~/.kube/config', () => {
    const result = assertServeReady(config(withKey), {
      env: {},
      exists: files('/etc/remediator/audit-key', '/home/op/.kube/config'),
      homeDir: '/home/op',
    });
    expect(result.kube).toEqual({ kind: 'home', path: '/home/op/.kube/config' });
  });

  it('refuses to start without any Kubernetes credentials and without audit.keyFile, listing both', () => {
    try {
      assertServeReady(config(''), { env: {}, exists: () => false, homeDir: '/home/op' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).details).toEqual([
        { path: 'audit.keyFile', message: 'Required by serve (the HMAC key of the audit chain)' },
        {
          path: 'kubernetes',
          message: 'no Kubernetes credentials: set kubernetes.kubeconfig, run in a cluster, set KUBECONFIG, or provide /home/op/.kube/config',
        },
      ]);
    }
  });

  it('reports configured files that do not exist instead of falling back', () => {
    try {
      assertServeReady(config(`${withKey}kubernetes: { kubeconfig: /nope }\n`), {
        env: {},
        exists: files('/home/op/.kube/config'),
        homeDir: '/home/op',
      });
      expect.unreachable();
    } catch (error) {
      expect((error as ConfigError).details).toEqual([
        { path: 'audit.keyFile', message: 'file not found: /etc/remediator/audit-key' },
        { path: 'kubernetes.kubeconfig', message: 'file not found: /nope' },
      ]);
    }
  });

  it('reports missing Prometheus and Alertmanager secret and TLS files', () => {
    const yaml = `${withKey}prometheus: { url: "http://p:9090", bearerTokenFile: prom-token, tls: { caFile: /ca.pem } }
alertmanager: { url: "http://a:9093", basicAuth: { username: r, passwordFile: /am-pass } }
`;
    try {
      assertServeReady(config(yaml), { env: {}, exists: files('/etc/remediator/audit-key', '/home/op/.kube/config', '/ca.pem'), homeDir: '/home/op' });
      expect.unreachable();
    } catch (error) {
      expect((error as ConfigError).details).toEqual([
        { path: 'prometheus.bearerTokenFile', message: 'file not found: /etc/remediator/prom-token' },
        { path: 'alertmanager.basicAuth.passwordFile', message: 'file not found: /am-pass' },
      ]);
    }
  });

  it('reports notification URL and secret files that are missing and variables that are not set', () => {
    const yaml = `${withKey}notifications:
  - { name: slack, type: slack, urlFile: slack-url }
  - { name: hook, type: webhook, urlEnv: HOOK_URL, secretEnv: HOOK_SECRET }
`;
    try {
      assertServeReady(config(yaml), { env: { HOOK_URL: 'https://hooks.example.internal/x' }, exists: files('/etc/remediator/audit-key', '/home/op/.kube/config'), homeDir: '/home/op' });
      expect.unreachable();
    } catch (error) {
      expect((error as ConfigError).details).toEqual([
        { path: 'notifications[0].urlFile', message: 'file not found: /etc/remediator/slack-url' },
        { path: 'notifications[1].secretEnv', message: 'environment variable HOOK_SECRET is not set' },
      ]);
    }
  });

  it('reports a KUBECONFIG whose files are all missing', () => {
    expect(() =>
      assertServeReady(config(withKey), { env: { KUBECONFIG: '/x' }, exists: files('/etc/remediator/audit-key', '/home/op/.kube/config'), homeDir: '/home/op' }),
    ).toThrow('KUBECONFIG (environment): none of these files exists: /x');
  });
});
