/**
 * The sim's RBAC pieces without HTTP: request attributes as the apiserver derives them, rule
 * matching, subjects and binding scopes, and the 403 message.
 */
import { describe, expect, it } from 'vitest';
import { forbiddenStatus, RbacAuthorizer, requestAttributes, userFor, type RequestAttributes } from '../../src/sim/rbac.js';

const q = (s = '') => new URLSearchParams(s);

function attrs(method: string, path: string, query = ''): Partial<RequestAttributes> {
  const a = requestAttributes(method, path, q(query));
  return { resourceRequest: a.resourceRequest, verb: a.verb, group: a.group, resource: a.resource, subresource: a.subresource, namespace: a.namespace, name: a.name };
}

describe('requestAttributes', () => {
  it('derives verbs as the apiserver does', () => {
    expect(attrs('GET', '/api/v1/namespaces/ml/pods/p')).toMatchObject({ verb: 'get', group: '', resource: 'pods', namespace: 'ml', name: 'p' });
    expect(attrs('GET', '/api/v1/namespaces/ml/pods')).toMatchObject({ verb: 'list', resource: 'pods', namespace: 'ml', name: '' });
    expect(attrs('GET', '/api/v1/pods', 'watch=true')).toMatchObject({ verb: 'watch', namespace: '' });
    expect(attrs('GET', '/api/v1/watch/namespaces/ml/pods')).toMatchObject({ verb: 'watch', resource: 'pods', namespace: 'ml' });
    expect(attrs('POST', '/api/v1/namespaces/ml/pods/p/eviction', 'dryRun=All')).toMatchObject({ verb: 'create', resource: 'pods', subresource: 'eviction', name: 'p' });
    expect(attrs('PUT', '/apis/apps/v1/namespaces/ml/deployments/d/scale')).toMatchObject({ verb: 'update', group: 'apps', resource: 'deployments', subresource: 'scale' });
    expect(attrs('PATCH', '/api/v1/nodes/n1')).toMatchObject({ verb: 'patch', resource: 'nodes', name: 'n1', namespace: '' });
    expect(attrs('DELETE', '/api/v1/namespaces/ml/pods/p')).toMatchObject({ verb: 'delete' });
    expect(attrs('DELETE', '/api/v1/namespaces/ml/pods')).toMatchObject({ verb: 'deletecollection' });
    // A namespace is its own namespace; a list narrowed to one name is authorized for that name.
    expect(attrs('GET', '/api/v1/namespaces/ml')).toMatchObject({ verb: 'get', resource: 'namespaces', name: 'ml', namespace: 'ml' });
    expect(attrs('GET', '/api/v1/namespaces/ml/pods', 'fieldSelector=metadata.name%3Dp')).toMatchObject({ verb: 'list', name: 'p' });
  });

  it('discovery and health paths are non-resource requests with the lower-cased method as verb', () => {
    for (const path of ['/api', '/api/v1', '/apis', '/apis/apps', '/apis/apps/v1', '/version', '/healthz', '/openapi/v3']) {
      expect(attrs('GET', path), path).toMatchObject({ resourceRequest: false, verb: 'get' });
    }
    expect(attrs('POST', '/logs')).toMatchObject({ resourceRequest: false, verb: 'post' });
  });
});

const POLICY = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: reader }
rules:
  - { apiGroups: [""], resources: [pods], verbs: [get, list] }
  - { apiGroups: ["apps"], resources: ["*/scale"], verbs: ["*"] }
  - { apiGroups: [""], resources: [configmaps], resourceNames: [settings], verbs: [get] }
  - { nonResourceURLs: ["/metrics", "/debug/*"], verbs: [get] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: evictor, namespace: ml }
rules:
  - { apiGroups: [""], resources: [pods/eviction], verbs: [create] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: evictor, namespace: ml }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: evictor }
subjects: [{ kind: ServiceAccount, name: worker }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: reader, namespace: team }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader }
subjects: [{ kind: Group, name: "system:serviceaccounts:ml" }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: alice-reader }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader }
subjects: [{ kind: User, name: alice }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: ignored }
`;

describe('RbacAuthorizer', () => {
  const authz = new RbacAuthorizer(POLICY);
  const worker = userFor('system:serviceaccount:ml:worker');
  const alice = userFor('alice');
  const can = (user: ReturnType<typeof userFor>, method: string, path: string, query = '') => authz.authorize(user, requestAttributes(method, path, q(query))).allowed;

  it('gives ServiceAccounts their groups and everyone system:authenticated', () => {
    expect(worker.groups.sort()).toEqual(['system:authenticated', 'system:serviceaccounts', 'system:serviceaccounts:ml']);
    expect(alice.groups).toEqual(['system:authenticated']);
  });

  it('ClusterRole through a ClusterRoleBinding applies everywhere; through a RoleBinding only in its namespace', () => {
    expect(can(alice, 'GET', '/api/v1/pods')).toBe(true);
    expect(can(alice, 'GET', '/api/v1/namespaces/x/pods/p')).toBe(true);
    expect(can(alice, 'DELETE', '/api/v1/namespaces/x/pods/p')).toBe(false);
    // worker: ClusterRole reader via a RoleBinding in `team` (to its namespace's SA group).
    expect(can(worker, 'GET', '/api/v1/namespaces/team/pods')).toBe(true);
    expect(can(worker, 'GET', '/api/v1/namespaces/other/pods')).toBe(false);
    expect(can(worker, 'GET', '/api/v1/pods')).toBe(false);
  });

  it('Role + RoleBinding, the SA subject defaulting to the binding namespace; subresources match exactly or by */sub', () => {
    expect(can(worker, 'POST', '/api/v1/namespaces/ml/pods/p/eviction')).toBe(true);
    expect(can(worker, 'POST', '/api/v1/namespaces/ml/pods/p/eviction', 'dryRun=All')).toBe(true);
    expect(can(worker, 'POST', '/api/v1/namespaces/team/pods/p/eviction')).toBe(false);
    expect(can(alice, 'PATCH', '/apis/apps/v1/namespaces/x/statefulsets/s/scale')).toBe(true);
    expect(can(alice, 'PATCH', '/apis/apps/v1/namespaces/x/statefulsets/s')).toBe(false);
    expect(can(alice, 'GET', '/api/v1/namespaces/x/pods/p/log')).toBe(false);
  });

  it('resourceNames restrict to the named objects (never a list or create)', () => {
    expect(can(alice, 'GET', '/api/v1/namespaces/x/configmaps/settings')).toBe(true);
    expect(can(alice, 'GET', '/api/v1/namespaces/x/configmaps/other')).toBe(false);
    expect(can(alice, 'GET', '/api/v1/namespaces/x/configmaps')).toBe(false);
  });

  it('nonResourceURLs, exact and prefix; the bootstrap discovery grants for every authenticated user', () => {
    expect(can(alice, 'GET', '/metrics')).toBe(true);
    expect(can(alice, 'GET', '/debug/pprof')).toBe(true);
    expect(can(worker, 'GET', '/metrics')).toBe(false);
    for (const path of ['/api', '/api/v1', '/apis', '/apis/apps/v1', '/version', '/healthz', '/readyz', '/livez', '/openapi/v2']) {
      expect(can(worker, 'GET', path), path).toBe(true);
    }
    expect(can(worker, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews')).toBe(true);
    expect(can(userFor({ username: 'system:anonymous', groups: ['system:unauthenticated'] }), 'GET', '/version')).toBe(true);
  });

  it('a binding to a missing role gives the RBAC reason', () => {
    const broken = new RbacAuthorizer(`
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: b }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gone }
subjects: [{ kind: User, name: bob }]
`);
    expect(broken.authorize(userFor('bob'), requestAttributes('GET', '/api/v1/nodes', q()))).toEqual({
      allowed: false,
      reason: 'RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found',
    });
  });

  it('the 403 Status', () => {
    const a = requestAttributes('POST', '/api/v1/namespaces/ml-serving/pods/x/eviction', q());
    expect(forbiddenStatus(userFor('system:serviceaccount:remediator:remediator-worker'), a)).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message:
        'pods "x" is forbidden: User "system:serviceaccount:remediator:remediator-worker" cannot create resource "pods/eviction" in API group "" in the namespace "ml-serving"',
      reason: 'Forbidden',
      details: { name: 'x', kind: 'pods' },
      code: 403,
    });
    expect(forbiddenStatus(alice, requestAttributes('GET', '/apis/apps/v1/deployments', q())).message).toBe(
      'deployments.apps is forbidden: User "alice" cannot list resource "deployments" in API group "apps" at the cluster scope',
    );
    expect(forbiddenStatus(alice, requestAttributes('GET', '/logs', q())).message).toBe('forbidden: User "alice" cannot get path "/logs"');
  });
});
