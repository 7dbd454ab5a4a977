/**
 * Optional RBAC for the sim: bearer tokens mapped to users, and an authorizer with Kubernetes'
 * RBAC semantics (k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac) over Roles, ClusterRoles,
 * RoleBindings and ClusterRoleBindings read from YAML, plus the bootstrap grants every
 * authenticated user has (system:discovery, system:basic-user, system:public-info-viewer).
 * Request attributes are derived as the apiserver's RequestInfoFactory does, and a denial is the
 * apiserver's 403 Status (responsewriters.ForbiddenStatusError). Every authorization decision is
 * recorded as a tuple, for tests that compare what a client used with what a role grants.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { isRecord } from './kube-types.js';
import { SimApiError, unauthorized, type StatusBody } from './status.js';

/** A token's identity: a username, or a username with extra groups. */
export interface SimRbacUser {
  username: string;
  groups?: string[];
}

export interface SimRbacOptions {
  /**
   * Multi-document YAML (e.g. `kubectl kustomize` output): Role, ClusterRole, RoleBinding and
   * ClusterRoleBinding are read (also inside a `kind: List`), every other kind is ignored.
   */
  manifests: string;
  /**
   * Bearer token → user. A ServiceAccount's username is
   * `system:serviceaccount:<namespace>:<name>`; it gets the groups `system:serviceaccounts`,
   * `system:serviceaccounts:<namespace>`; every user gets `system:authenticated`.
   */
  tokens: Record<string, string | SimRbacUser>;
}

/** One authorization decision. Non-resource requests have empty group/resource and a `path`. */
export interface SimAuthRecord {
  user: string;
  verb: string;
  group: string;
  resource: string;
  subresource: string;
  namespace?: string;
  name?: string;
  /** Set for non-resource requests (`/version`, `/api`, ...). */
  path?: string;
  allowed: boolean;
}

export interface UserInfo {
  username: string;
  groups: string[];
}

/** What the authorizer sees of a request (authorizer.Attributes). */
export interface RequestAttributes {
  resourceRequest: boolean;
  verb: string;
  group: string;
  version: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  path: string;
}

export interface PolicyRule {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  resourceNames: string[];
  nonResourceURLs: string[];
}

export interface RbacSubject {
  kind: string;
  name: string;
  namespace?: string;
}

export interface RbacRole {
  kind: 'Role' | 'ClusterRole';
  name: string;
  namespace?: string;
  rules: PolicyRule[];
}

export interface RbacBinding {
  kind: 'RoleBinding' | 'ClusterRoleBinding';
  name: string;
  namespace?: string;
  roleRef: { kind: 'Role' | 'ClusterRole'; name: string };
  subjects: RbacSubject[];
}

export interface RbacPolicy {
  roles: RbacRole[];
  bindings: RbacBinding[];
}

export const SIM_ADMIN_USER: UserInfo = { username: 'system:admin', groups: ['system:masters', 'system:authenticated'] };
export const ANONYMOUS_USER: UserInfo = { username: 'system:anonymous', groups: ['system:unauthenticated'] };
const SERVICE_ACCOUNT_PREFIX = 'system:serviceaccount:';
/** Environment variable naming a directory where each process appends its tuples as NDJSON. */
export const AUTH_LOG_DIR_ENV = 'REMEDIATOR_SIM_AUTH_LOG_DIR';

// ---- request attributes (k8s.io/apiserver/pkg/endpoints/request.RequestInfoFactory) ----------

const SPECIAL_VERBS = new Set(['proxy', 'watch']);
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);
const TRUE_VALUES = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);

function resourceVerb(method: string): string {
  switch (method) {
    case 'POST':
      return 'create';
    case 'GET':
    case 'HEAD':
      return 'get';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return '';
  }
}

export function requestAttributes(method: string, path: string, query: URLSearchParams): RequestAttributes {
  const nonResource: RequestAttributes = {
    resourceRequest: false,
    verb: method.toLowerCase(),
    group: '',
    version: '',
    resource: '',
    subresource: '',
    namespace: '',
    name: '',
    path,
  };
  let parts = path.split('/').filter((s) => s !== '');
  if (parts.length < 3 || (parts[0] !== 'api' && parts[0] !== 'apis')) return nonResource;
  const prefix = parts[0];
  parts = parts.slice(1);
  let group = '';
  if (prefix === 'apis') {
    if (parts.length < 3) return nonResource;
    group = parts[0] ?? '';
    parts = parts.slice(1);
  }
  const version = parts[0] ?? '';
  parts = parts.slice(1);
  let verb: string;
  if (SPECIAL_VERBS.has(parts[0] ?? '') && parts.length >= 2) {
    verb = parts[0] ?? '';
    parts = parts.slice(1);
  } else {
    verb = resourceVerb(method);
  }
  let namespace = '';
  if (parts[0] === 'namespaces' && parts.length > 1) {
    namespace = parts[1] ?? '';
    if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2] ?? '')) parts = parts.slice(2);
  }
  const resource = parts[0] ?? '';
  const name = parts[1] ?? '';
  const subresource = parts.length >= 3 && verb !== 'proxy' ? (parts[2] ?? '') : '';
  let attrs: RequestAttributes = { resourceRequest: true, verb, group, version, resource, subresource, namespace, name, path };
  if (name === '' && verb === 'get') {
    attrs.verb = TRUE_VALUES.has(query.get('watch') ?? '') ? 'watch' : 'list';
    // A list or watch narrowed to one name (fieldSelector=metadata.name=x) is authorized for that name.
    const exact = (query.get('fieldSelector') ?? '').split(',').map((s) => /^metadata\.name==?(.+)$/.exec(s.trim())?.[1]);
    const only = exact.length === 1 ? exact[0] : undefined;
    if (only && /^[^/%]+$/.test(only) && only !== '.' && only !== '..') attrs = { ...attrs, name: only };
  }
  if (attrs.name === '' && attrs.verb === 'delete') attrs.verb = 'deletecollection';
  return attrs;
}

// ---- policy ---------------------------------------------------------------------------------

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function parseRule(raw: unknown): PolicyRule {
  const r = isRecord(raw) ? raw : {};
  return {
    verbs: strings(r['verbs']),
    apiGroups: strings(r['apiGroups']),
    resources: strings(r['resources']),
    resourceNames: strings(r['resourceNames']),
    nonResourceURLs: strings(r['nonResourceURLs']),
  };
}

function collect(doc: unknown, into: unknown[]): void {
  if (!isRecord(doc)) return;
  if (typeof doc['kind'] === 'string' && doc['kind'].endsWith('List') && Array.isArray(doc['items'])) {
    for (const item of doc['items']) collect(item, into);
    return;
  }
  into.push(doc);
}

/** Reads the RBAC objects of a multi-document YAML text; throws on YAML errors and malformed bindings. */
export function parseRbacManifests(text: string): RbacPolicy {
  const objects: unknown[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`sim rbac: cannot parse manifests: ${doc.errors[0]?.message}`);
    collect(doc.toJSON(), objects);
  }
  const policy: RbacPolicy = { roles: [], bindings: [] };
  for (const obj of objects) {
    if (!isRecord(obj)) continue;
    const kind = obj['kind'];
    const apiVersion = String(obj['apiVersion'] ?? '');
    if (!apiVersion.startsWith('rbac.authorization.k8s.io/')) continue;
    const meta = isRecord(obj['metadata']) ? obj['metadata'] : {};
    const name = String(meta['name'] ?? '');
    const namespaced = kind === 'Role' || kind === 'RoleBinding';
    const namespace = namespaced ? String(meta['namespace'] ?? 'default') : undefined;
    if (kind === 'Role' || kind === 'ClusterRole') {
      const rules = Array.isArray(obj['rules']) ? obj['rules'].map(parseRule) : [];
      policy.roles.push({ kind, name, ...(namespace ? { namespace } : {}), rules });
    } else if (kind === 'RoleBinding' || kind === 'ClusterRoleBinding') {
      const ref = isRecord(obj['roleRef']) ? obj['roleRef'] : {};
      const refKind = ref['kind'];
      if ((refKind !== 'Role' && refKind !== 'ClusterRole') || typeof ref['name'] !== 'string' || (kind === 'ClusterRoleBinding' && refKind !== 'ClusterRole')) {
        throw new Error(`sim rbac: ${kind} ${name}: roleRef must name a ${kind === 'ClusterRoleBinding' ? 'ClusterRole' : 'Role or ClusterRole'}`);
      }
      const subjects = (Array.isArray(obj['subjects']) ? obj['subjects'] : []).filter(isRecord).map((s) => ({
        kind: String(s['kind'] ?? ''),
        name: String(s['name'] ?? ''),
        ...(typeof s['namespace'] === 'string' && s['namespace'] !== '' ? { namespace: s['namespace'] } : {}),
      }));
      policy.bindings.push({ kind, name, ...(namespace ? { namespace } : {}), roleRef: { kind: refKind, name: ref['name'] }, subjects });
    }
  }
  return policy;
}

/** The bootstrap policy's grants to everyone authenticated (plugin/pkg/auth/authorizer/rbac/bootstrappolicy). */
export const BOOTSTRAP_POLICY: RbacPolicy = {
  roles: [
    {
      kind: 'ClusterRole',
      name: 'system:discovery',
      rules: [
        {
          verbs: ['get'],
          apiGroups: [],
          resources: [],
          resourceNames: [],
          nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'],
        },
      ],
    },
    {
      kind: 'ClusterRole',
      name: 'system:basic-user',
      rules: [
        { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], resourceNames: [], nonResourceURLs: [] },
        { verbs: ['create'], apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], resourceNames: [], nonResourceURLs: [] },
      ],
    },
    {
      kind: 'ClusterRole',
      name: 'system:public-info-viewer',
      rules: [{ verbs: ['get'], apiGroups: [], resources: [], resourceNames: [], nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/version/'] }],
    },
  ],
  bindings: [
    { kind: 'ClusterRoleBinding', name: 'system:discovery', roleRef: { kind: 'ClusterRole', name: 'system:discovery' }, subjects: [{ kind: 'Group', name: 'system:authenticated' }] },
    { kind: 'ClusterRoleBinding', name: 'system:basic-user', roleRef: { kind: 'ClusterRole', name: 'system:basic-user' }, subjects: [{ kind: 'Group', name: 'system:authenticated' }] },
    {
      kind: 'ClusterRoleBinding',
      name: 'system:public-info-viewer',
      roleRef: { kind: 'ClusterRole', name: 'system:public-info-viewer' },
      subjects: [
        { kind: 'Group', name: 'system:authenticated' },
        { kind: 'Group', name: 'system:unauthenticated' },
      ],
    },
  ],
};

/** rbac/v1 helpers: VerbMatches, APIGroupMatches, ResourceMatches, ResourceNameMatches, NonResourceURLMatches. */
export function ruleAllows(attrs: RequestAttributes, rule: PolicyRule): boolean {
  if (!rule.verbs.includes('*') && !rule.verbs.includes(attrs.verb)) return false;
  if (!attrs.resourceRequest) {
    return rule.nonResourceURLs.some((u) => u === '*' || u === attrs.path || (u.endsWith('*') && attrs.path.startsWith(u.slice(0, -1))));
  }
  if (!rule.apiGroups.includes('*') && !rule.apiGroups.includes(attrs.group)) return false;
  const combined = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  const resourceOk = rule.resources.some(
    (r) => r === '*' || r === combined || (attrs.subresource !== '' && r === `*/${attrs.subresource}`),
  );
  if (!resourceOk) return false;
  return rule.resourceNames.length === 0 || rule.resourceNames.includes(attrs.name);
}

function subjectApplies(user: UserInfo, subject: RbacSubject, bindingNamespace: string): boolean {
  switch (subject.kind) {
    case 'User':
      return user.username === subject.name;
    case 'Group':
      return user.groups.includes(subject.name);
    case 'ServiceAccount': {
      const namespace = subject.namespace ?? bindingNamespace;
      return namespace !== '' && user.username === `${SERVICE_ACCOUNT_PREFIX}${namespace}:${subject.name}`;
    }
    default:
      return false;
  }
}

/** The groups the apiserver's authenticators give a username. */
export function userFor(entry: string | SimRbacUser): UserInfo {
  const username = typeof entry === 'string' ? entry : entry.username;
  const groups = new Set(typeof entry === 'string' ? [] : (entry.groups ?? []));
  if (username.startsWith(SERVICE_ACCOUNT_PREFIX)) {
    const namespace = username.slice(SERVICE_ACCOUNT_PREFIX.length).split(':')[0] ?? '';
    groups.add('system:serviceaccounts');
    groups.add(`system:serviceaccounts:${namespace}`);
  }
  groups.add('system:authenticated');
  return { username, groups: [...groups] };
}

export interface Decision {
  allowed: boolean;
  /** Why nothing matched, when a binding named a role that does not exist ("RBAC: ..."). */
  reason: string;
}

export class RbacAuthorizer {
  private readonly policy: RbacPolicy;

  constructor(manifests: string | RbacPolicy) {
    const own = typeof manifests === 'string' ? parseRbacManifests(manifests) : manifests;
    this.policy = { roles: [...BOOTSTRAP_POLICY.roles, ...own.roles], bindings: [...BOOTSTRAP_POLICY.bindings, ...own.bindings] };
  }

  private role(kind: 'Role' | 'ClusterRole', name: string, namespace?: string): RbacRole | undefined {
    return this.policy.roles.find((r) => r.kind === kind && r.name === name && (kind === 'ClusterRole' || r.namespace === namespace));
  }

  /** Visits the rules of every binding that applies to the user and the request's namespace (RBACAuthorizer.Authorize). */
  authorize(user: UserInfo, attrs: RequestAttributes): Decision {
    if (user.groups.includes('system:masters')) return { allowed: true, reason: '' };
    const errors: string[] = [];
    for (const binding of this.policy.bindings) {
      if (binding.kind === 'RoleBinding' && (attrs.namespace === '' || binding.namespace !== attrs.namespace)) continue;
      if (!binding.subjects.some((s) => subjectApplies(user, s, binding.namespace ?? ''))) continue;
      const role = this.role(binding.roleRef.kind, binding.roleRef.name, binding.namespace);
      if (!role) {
        errors.push(`${binding.roleRef.kind.toLowerCase()}.rbac.authorization.k8s.io "${binding.roleRef.name}" not found`);
        continue;
      }
      if (role.rules.some((rule) => ruleAllows(attrs, rule))) return { allowed: true, reason: '' };
    }
    const reason = errors.length === 0 ? '' : `RBAC: ${errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`}`;
    return { allowed: false, reason };
  }
}

/** responsewriters.forbiddenMessage. */
export function forbiddenMessage(user: UserInfo, attrs: RequestAttributes): string {
  if (!attrs.resourceRequest) return `User ${JSON.stringify(user.username)} cannot ${attrs.verb} path ${JSON.stringify(attrs.path)}`;
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  const where = attrs.namespace ? `in the namespace ${JSON.stringify(attrs.namespace)}` : 'at the cluster scope';
  return `User ${JSON.stringify(user.username)} cannot ${attrs.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(attrs.group)} ${where}`;
}

/** responsewriters.ForbiddenStatusError → apierrors.NewForbidden: the 403 Status body. */
export function forbiddenStatus(user: UserInfo, attrs: RequestAttributes, reason = ''): StatusBody {
  const why = reason ? `${forbiddenMessage(user, attrs)}: ${reason}` : forbiddenMessage(user, attrs);
  const gr = attrs.resourceRequest ? (attrs.group ? `${attrs.resource}.${attrs.group}` : attrs.resource) : '';
  let message: string;
  if (gr === '') message = `forbidden: ${why}`;
  else if (attrs.name === '') message = `${gr} is forbidden: ${why}`;
  else message = `${gr} ${JSON.stringify(attrs.name)} is forbidden: ${why}`;
  const details: { name?: string; group?: string; kind?: string } = {};
  if (attrs.name) details.name = attrs.name;
  if (attrs.group) details.group = attrs.group;
  if (attrs.resource) details.kind = attrs.resource;
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'Forbidden', details, code: 403 };
}

/**
 * The sim's authentication + authorization when RBAC is on: the admin token is system:masters,
 * mapped tokens are their users, no token is system:anonymous, any other token is a 401.
 */
export class SimRbac {
  private readonly authorizer: RbacAuthorizer;
  private readonly users = new Map<string, UserInfo>();
  private readonly mapped = new Set<string>();
  private readonly records: SimAuthRecord[] = [];
  private readonly logFile: string | undefined;

  constructor(
    options: SimRbacOptions,
    private readonly adminToken: string,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.authorizer = new RbacAuthorizer(options.manifests);
    for (const [token, entry] of Object.entries(options.tokens)) {
      if (token === adminToken) throw new Error('sim rbac: a mapped token must differ from the admin token');
      const user = userFor(entry);
      this.users.set(token, user);
      this.mapped.add(user.username);
    }
    const dir = env[AUTH_LOG_DIR_ENV];
    if (dir) {
      mkdirSync(dir, { recursive: true });
      this.logFile = join(dir, `sim-auth-${process.pid}.ndjson`);
    }
  }

  /** Throws the 401 Status for a bearer token nobody holds. */
  authenticate(header: string | undefined): UserInfo {
    const match = header === undefined ? null : /^bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) return ANONYMOUS_USER;
    const token = match[1] ?? '';
    if (token === this.adminToken) return SIM_ADMIN_USER;
    const user = this.users.get(token);
    if (!user) throw unauthorized();
    return user;
  }

  /** Records the decision; throws the 403 Status when denied. */
  authorize(user: UserInfo, method: string, path: string, query: URLSearchParams): SimAuthRecord {
    const attrs = requestAttributes(method, path, query);
    const decision = this.authorizer.authorize(user, attrs);
    const record: SimAuthRecord = {
      user: user.username,
      verb: attrs.verb,
      group: attrs.group,
      resource: attrs.resource,
      subresource: attrs.subresource,
      ...(attrs.namespace ? { namespace: attrs.namespace } : {}),
      ...(attrs.name ? { name: attrs.name } : {}),
      ...(attrs.resourceRequest ? {} : { path: attrs.path }),
      allowed: decision.allowed,
    };
    this.records.push(record);
    if (this.logFile && this.mapped.has(user.username)) {
      try {
        appendFileSync(this.logFile, `${JSON.stringify(record)}\n`);
      } catch (err) {
        process.stderr.write(`sim: could not append to ${this.logFile}: ${String(err)}\n`);
      }
    }
    if (!decision.allowed) throw new SimApiError(forbiddenStatus(user, attrs, decision.reason));
    return record;
  }

  log(): SimAuthRecord[] {
    return this.records.map((r) => ({ ...r }));
  }
}
