import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeConfigError, loadKubeConfig } from '../../src/kube/load-kube-config.js';
import { PermanentError } from '../../src/domain/errors.js';

let dir: string;
let noServiceAccount: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'remediator-kubeconfig-'));
  noServiceAccount = join(dir, 'no-service-account');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface ContextSpec {
  name: string;
  cluster: string;
  user?: string;
}

function kubeconfigYaml(opts: {
  clusters?: { name: string; server?: string; ca?: string }[];
  contexts?: ContextSpec[];
  users?: string[];
  current?: string;
}): string {
  const clusters = (opts.clusters ?? [{ name: 'c1', server: 'https://c1.example:6443' }])
    .map(
      (c) =>
        `- name: ${c.name}\n  cluster:\n${c.server ? `    server: ${c.server}\n` : '    insecure-skip-tls-verify: true\n'}` +
        (c.ca ? `    certificate-authority: ${c.ca}\n` : ''),
    )
    .join('');
  const contexts = (opts.contexts ?? [{ name: 'ctx1', cluster: 'c1', user: 'u1' }])
    .map((c) => `- name: ${c.name}\n  context:\n    cluster: ${c.cluster}\n${c.user ? `    user: ${c.user}\n` : ''}`)
    .join('');
  const users = (opts.users ?? ['u1']).map((u) => `- name: ${u}\n  user:\n    token: token-${u}\n`).join('');
  return (
    `apiVersion: v1\nkind: Config\nclusters:\n${clusters}contexts:\n${contexts}users:\n${users}` +
    (opts.current === '' ? '' : `current-context: ${opts.current ?? 'ctx1'}\n`)
  );
}

function write(name: string, content: string): string {
  const file = join(dir, name);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, content);
  return file;
}

function refusal(fn: () => unknown): KubeConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KubeConfigError);
    expect(err).toBeInstanceOf(PermanentError);
    return err as KubeConfigError;
  }
  throw new Error('expected loadKubeConfig to refuse');
}

describe('loadKubeConfig', () => {
  it('refuses when nothing is configured, naming everything it tried and never localhost', () => {
    const home = join(dir, 'home');
    mkdirSync(home);
    const err = refusal(() => loadKubeConfig({ env: { HOME: home } }));
    expect(err.message).toContain('no usable Kubernetes configuration');
    expect(err.message).toContain('in-cluster service account');
    expect(err.message).toContain('KUBERNETES_SERVICE_HOST not set');
    expect(err.message).toContain('$KUBECONFIG: not set');
    expect(err.message).toContain(join(home, '.kube', 'config'));
    expect(err.message).toContain('does not exist');
    expect(err.message).toContain('never falls back to http://localhost:8080');
  });

  it('refuses with an empty environment (no HOME)', () => {
    const err = refusal(() => loadKubeConfig({ env: {}, serviceAccountDir: noServiceAccount }));
    expect(err.message).toContain('$HOME not set');
    expect(err.message).toContain('$KUBECONFIG: not set');
  });

  it('loads an explicit kubeconfig path and reports its source', () => {
    const file = write('explicit.yaml', kubeconfigYaml({}));
    const { kc, source } = loadKubeConfig({ kubeconfig: file, env: {}, serviceAccountDir: noServiceAccount });
    expect(kc.getCurrentCluster()?.server).toBe('https://c1.example:6443');
    expect(kc.getCurrentUser()?.token).toBe('token-u1');
    expect(source).toBe(`kubeconfig file ${file} (context ctx1)`);
  });

  it('an explicit kubeconfig beats the in-cluster account and $KUBECONFIG, and a missing one is fatal', () => {
    const sa = write('sa/token', 'sa-token');
    const other = write('other.yaml', kubeconfigYaml({}));
    const env = { HOME: dir, KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBECONFIG: other };
    const missing = join(dir, 'missing.yaml');
    const err = refusal(() => loadKubeConfig({ kubeconfig: missing, env, serviceAccountDir: join(sa, '..') }));
    expect(err.message).toContain(`kubeconfig file ${missing} does not exist`);
    expect(err.message).not.toContain('in-cluster');
  });

  it('selects the requested context, and refuses an unknown one listing the available ones', () => {
    const file = write(
      'two.yaml',
      kubeconfigYaml({
        clusters: [
          { name: 'c1', server: 'https://c1.example:6443' },
          { name: 'c2', server: 'https://c2.example:6443' },
        ],
        contexts: [
          { name: 'ctx1', cluster: 'c1', user: 'u1' },
          { name: 'prod-gpu', cluster: 'c2', user: 'u2' },
        ],
        users: ['u1', 'u2'],
      }),
    );
    const loaded = loadKubeConfig({ kubeconfig: file, context: 'prod-gpu', env: {}, serviceAccountDir: noServiceAccount });
    expect(loaded.kc.getCurrentCluster()?.server).toBe('https://c2.example:6443');
    expect(loaded.source).toContain('(context prod-gpu)');

    const err = refusal(() => loadKubeConfig({ kubeconfig: file, context: 'staging', env: {}, serviceAccountDir: noServiceAccount }));
    expect(err.message).toContain('context "staging" not found');
    expect(err.message).toContain('available contexts: ctx1, prod-gpu');
  });

  it('refuses a kubeconfig without current-context when no context is configured', () => {
    const file = write('nocurrent.yaml', kubeconfigYaml({ current: '' }));
    const err = refusal(() => loadKubeConfig({ kubeconfig: file, env: {}, serviceAccountDir: noServiceAccount }));
    expect(err.message).toContain('no current-context');
    expect(loadKubeConfig({ kubeconfig: file, context: 'ctx1', env: {}, serviceAccountDir: noServiceAccount }).source).toContain('ctx1');
  });

  it('refuses a current-context that does not exist', () => {
    const file = write('dangling.yaml', kubeconfigYaml({ current: 'gone' }));
    const err = refusal(() => loadKubeConfig({ kubeconfig: file, env: {}, serviceAccountDir: noServiceAccount }));
    expect(err.message).toContain('current-context "gone" not found');
  });

  it('refuses a context whose cluster has no server, or whose user is missing', () => {
    const noServer = write('noserver.yaml', kubeconfigYaml({ clusters: [{ name: 'c1' }] }));
    const err = refusal(() => loadKubeConfig({ kubeconfig: noServer, env: {}, serviceAccountDir: noServiceAccount }));
    expect(err.message).toContain('cluster "c1"');
    expect(err.message).toContain('no server');

    const noUser = write('nouser.yaml', kubeconfigYaml({ users: ['someone-else'] }));
    const err2 = refusal(() => loadKubeConfig({ kubeconfig: noUser, env: {}, serviceAccountDir: noServiceAccount }));
    expect(err2.message).toContain('user "u1", which is not defined');
  });

  it('ignores a broken entry that the selected context does not use', () => {
    const file = write(
      'mixed.yaml',
      kubeconfigYaml({ clusters: [{ name: 'broken' }, { name: 'c1', server: 'https://c1.example:6443' }] }),
    );
    expect(loadKubeConfig({ kubeconfig: file, env: {}, serviceAccountDir: noServiceAccount }).kc.getCurrentCluster()?.name).toBe('c1');
  });

  it('refuses unparseable YAML with the file name', () => {
    const file = write('garbage.yaml', 'clusters: [unterminated');
    const err = refusal(() => loadKubeConfig({ kubeconfig: file, env: {}, serviceAccountDir: noServiceAccount }));
    expect(err.message).toContain(`cannot read ${file}`);
  });

  it('makes relative certificate paths absolute against the kubeconfig directory', () => {
    const file = write('nested/config', kubeconfigYaml({ clusters: [{ name: 'c1', server: 'https://c1.example:6443', ca: 'ca.crt' }] }));
    const { kc } = loadKubeConfig({ kubeconfig: file, env: {}, serviceAccountDir: noServiceAccount });
    expect(kc.getCurrentCluster()?.caFile).toBe(join(dir, 'nested', 'ca.crt'));
  });

  it('uses the in-cluster service account before $KUBECONFIG, from the env it is given', () => {
    write('sa/token', 'sa-token');
    write('sa/ca.crt', 'not-a-real-ca');
    const kubeconfig = write('kc.yaml', kubeconfigYaml({}));
    const { kc, source } = loadKubeConfig({
      env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443', KUBECONFIG: kubeconfig },
      serviceAccountDir: join(dir, 'sa'),
    });
    expect(kc.getCurrentCluster()?.server).toBe('https://[fd00::1]:6443');
    expect(kc.getCurrentCluster()?.caFile).toBe(join(dir, 'sa', 'ca.crt'));
    expect(kc.getCurrentUser()?.authProvider).toEqual({ name: 'tokenFile', config: { tokenFile: join(dir, 'sa', 'token') } });
    expect(source).toBe('in-cluster service account (fd00::1)');
  });

  it('does not treat a token without KUBERNETES_SERVICE_HOST as in-cluster', () => {
    write('sa/token', 'sa-token');
    const err = refusal(() => loadKubeConfig({ env: {}, serviceAccountDir: join(dir, 'sa') }));
    expect(err.message).toContain('token present');
    expect(err.message).toContain('KUBERNETES_SERVICE_HOST not set');
  });

  it('refuses a context together with the in-cluster account', () => {
    write('sa/token', 'sa-token');
    const err = refusal(() =>
      loadKubeConfig({ context: 'prod-gpu', env: { KUBERNETES_SERVICE_HOST: '10.0.0.1' }, serviceAccountDir: join(dir, 'sa') }),
    );
    expect(err.message).toContain('kubernetes.context "prod-gpu"');
  });

  it('merges a $KUBECONFIG list like kubectl (first definition wins, missing files skipped)', () => {
    const first = write(
      'a.yaml',
      kubeconfigYaml({ clusters: [{ name: 'c1', server: 'https://first.example' }], current: 'ctx1' }),
    );
    const second = write(
      'b.yaml',
      kubeconfigYaml({
        clusters: [
          { name: 'c1', server: 'https://second.example' },
          { name: 'c2', server: 'https://c2.example' },
        ],
        contexts: [
          { name: 'ctx1', cluster: 'c2', user: 'u1' },
          { name: 'ctx2', cluster: 'c2', user: 'u2' },
        ],
        users: ['u1', 'u2'],
        current: 'ctx2',
      }),
    );
    const missing = join(dir, 'missing.yaml');
    const env = { HOME: dir, KUBECONFIG: [missing, first, second].join(delimiter) };
    const merged = loadKubeConfig({ env, serviceAccountDir: noServiceAccount });
    expect(merged.kc.getCurrentContext()).toBe('ctx1');
    expect(merged.kc.getCurrentCluster()?.server).toBe('https://first.example');
    expect(merged.source).toContain('$KUBECONFIG');
    const other = loadKubeConfig({ env, context: 'ctx2', serviceAccountDir: noServiceAccount });
    expect(other.kc.getCurrentCluster()?.server).toBe('https://c2.example');
    expect(other.kc.getCurrentUser()?.token).toBe('token-u2');
  });

  it('does not fall back to ~/.kube/config when every $KUBECONFIG file is missing', () => {
    write('.kube/config', kubeconfigYaml({}));
    const missing = join(dir, 'missing.yaml');
    const err = refusal(() => loadKubeConfig({ env: { HOME: dir, KUBECONFIG: missing }, serviceAccountDir: noServiceAccount }));
    expect(err.message).toContain('none of the files in $KUBECONFIG exist');
    expect(err.message).toContain(`missing: ${missing}`);
  });

  it('falls back to ~/.kube/config when $KUBECONFIG is unset', () => {
    const file = write('.kube/config', kubeconfigYaml({}));
    const { kc, source } = loadKubeConfig({ env: { HOME: dir }, serviceAccountDir: noServiceAccount });
    expect(kc.getCurrentCluster()?.server).toBe('https://c1.example:6443');
    expect(source).toBe(`kubeconfig file ${file} (context ctx1)`);
  });
});
