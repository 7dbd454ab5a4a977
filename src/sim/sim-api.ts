/**
 * The REST semantics of kube-apiserver for the served resources, independent of HTTP: get,
 * list, create, update, patch, delete, the scale and status subresources and pod eviction, with
 * their preconditions, optimistic concurrency and dry-run. Every successful real write is
 * followed by a controller reconcile, so callers observe the cluster's reaction immediately.
 */
import { defaultObject } from './defaults.js';
import type { KubeNode, KubeObject, Pod, PodDisruptionBudget, Workload } from './kube-types.js';
import { deepCopy, isRecord } from './kube-types.js';
import {
  applyJsonPatch,
  decodeJsonPatch,
  deepEqual,
  mergePatch,
  PatchApplyError,
  strategicMergePatch,
} from './patch.js';
import { computePdbStatus, podsSelectedBy } from './pdb.js';
import { isFinished, isReady, isTerminating } from './pod-status.js';
import { storageApiVersion, type ResourceDef } from './resources.js';
import { matchesRequirements, parseFieldSelector, parseLabelSelector } from './selectors.js';
import {
  NAMESPACES,
  PDBS,
  PODS,
  randomSuffix,
  REPLICASETS,
  SimControllers,
  syncUnschedulableTaint,
} from './sim-controllers.js';
import { kubeTime, type SimStore } from './sim-store.js';
import {
  alreadyExists,
  badRequest,
  conflict,
  forbidden,
  genericUnprocessable,
  internalError,
  invalid,
  notFound,
  OPTIMISTIC_LOCK_MESSAGE,
  success,
  tooManyRequests,
  type GroupResource,
  type StatusBody,
} from './status.js';
import { invalidQuantity, QUANTITY_MESSAGE, validateCreate, validateUpdate } from './validation.js';
import { fromServedVersion, toServedVersion } from './versions.js';

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

/** Which resource, in which served version, in which namespace a request addresses. */
export interface Scope {
  def: ResourceDef;
  version: string;
  namespace?: string;
}

export interface WriteOptions {
  dryRun: boolean;
  fieldManager?: string;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continueToken?: string;
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: string;
  orphanDependents?: boolean;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface KubeList {
  kind: string;
  apiVersion: string;
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: KubeObject[];
}

export interface ScaleObject {
  kind: 'Scale';
  apiVersion: 'autoscaling/v1';
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string; creationTimestamp: string };
  spec: { replicas?: number };
  status: { replicas: number; selector: string };
}

function groupResource(def: ResourceDef): GroupResource {
  return { group: def.group, resource: def.plural };
}

function apiVersionOf(def: ResourceDef, version: string): string {
  return def.group ? `${def.group}/${version}` : version;
}

const SCALABLE = new Set(['Deployment', 'StatefulSet', 'ReplicaSet']);

export class SimApi {
  constructor(
    readonly store: SimStore,
    readonly controllers: SimControllers,
  ) {}

  private afterWrite(): void {
    this.controllers.reconcile();
  }

  private current(scope: Scope, name: string): KubeObject {
    const found = this.store.get(scope.def, scope.namespace, name);
    if (!found) throw notFound(groupResource(scope.def), name);
    return found;
  }

  get(scope: Scope, name: string): KubeObject {
    return toServedVersion(scope.def, this.current(scope, name), scope.version);
  }

  list(scope: Scope, opts: ListOptions = {}): KubeList {
    const { def } = scope;
    let items = this.store.list(def, scope.namespace);
    if (opts.labelSelector) {
      const reqs = parseLabelSelector(opts.labelSelector);
      items = items.filter((o) => matchesRequirements(o.metadata.labels, reqs));
    }
    if (opts.fieldSelector) {
      const reqs = parseFieldSelector(opts.fieldSelector);
      for (const req of reqs) {
        if (!def.fields[req.field]) throw badRequest(`field label not supported: ${req.field}`);
      }
      items = items.filter((o) =>
        reqs.every((req) => {
          const read = def.fields[req.field];
          return read ? (read(o) === req.value) !== req.negate : false;
        }),
      );
    }
    const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
    if (opts.continueToken) {
      let start: string;
      try {
        const decoded = JSON.parse(Buffer.from(opts.continueToken, 'base64url').toString('utf8')) as { start?: unknown };
        if (typeof decoded.start !== 'string') throw new Error('bad token');
        start = decoded.start;
      } catch {
        throw badRequest('continue key is not valid: illegal base64 data');
      }
      items = items.filter((o) => keyOf(o) > start);
    }
    const metadata: KubeList['metadata'] = { resourceVersion: this.store.resourceVersion };
    if (opts.limit && opts.limit > 0 && items.length > opts.limit) {
      const rest = items.length - opts.limit;
      items = items.slice(0, opts.limit);
      const last = items[items.length - 1];
      metadata.continue = Buffer.from(JSON.stringify({ v: 'sim', rv: this.store.resourceVersion, start: last ? keyOf(last) : '' })).toString('base64url');
      metadata.remainingItemCount = rest;
    }
    return {
      kind: `${def.kind}List`,
      apiVersion: apiVersionOf(def, scope.version),
      metadata,
      // Items of a typed list carry no kind/apiVersion, as on a real server.
      items: items.map((o) => {
        const served = toServedVersion(def, o, scope.version);
        const { kind: _kind, apiVersion: _apiVersion, ...rest } = served;
        return rest as KubeObject;
      }),
    };
  }

  private checkNamespaceWritable(scope: Scope): void {
    if (!scope.def.namespaced || !scope.namespace) return;
    const ns = this.store.get(NAMESPACES, undefined, scope.namespace);
    if (!ns) throw notFound({ group: '', resource: 'namespaces' }, scope.namespace);
    if (ns.metadata.deletionTimestamp) {
      throw forbidden(groupResource(scope.def), '', `unable to create new content in namespace ${scope.namespace} because it is being terminated`);
    }
  }

  private checkBodyIdentity(scope: Scope, body: KubeObject, urlName?: string): void {
    const { def } = scope;
    if (body.kind !== undefined && body.kind !== def.kind) {
      throw badRequest(`${String(body.kind)} in version "${scope.version}" cannot be handled as a ${def.kind}: the object provided is unrecognized (must be of type ${def.kind})`);
    }
    const expectedApiVersion = apiVersionOf(def, scope.version);
    if (body.apiVersion !== undefined && body.apiVersion !== expectedApiVersion) {
      throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${expectedApiVersion})`);
    }
    const bodyNs = body.metadata.namespace;
    if (def.namespaced && bodyNs && scope.namespace && bodyNs !== scope.namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    if (urlName !== undefined && body.metadata.name && body.metadata.name !== urlName) {
      throw badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${urlName})`);
    }
  }

  /** A body whose quantities do not parse cannot be decoded into the typed object (400). */
  private checkDecodable(scope: Scope, body: KubeObject): void {
    if (invalidQuantity(scope.def.kind, body) === undefined) return;
    throw badRequest(`${scope.def.kind} in version "${scope.version}" cannot be handled as a ${scope.def.kind}: ${QUANTITY_MESSAGE}`);
  }

  private asObject(body: unknown): KubeObject {
    if (!isRecord(body)) throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(body)}'`);
    const obj = deepCopy(body) as KubeObject;
    if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
    if (!isRecord(obj.metadata)) throw badRequest('metadata must be an object');
    return obj;
  }

  create(scope: Scope, body: unknown, opts: WriteOptions): KubeObject {
    const { def } = scope;
    const requested = this.asObject(body);
    this.checkBodyIdentity(scope, requested);
    this.checkDecodable(scope, requested);
    const obj = fromServedVersion(def, requested, scope.version);
    if (def.namespaced) obj.metadata.namespace = scope.namespace;
    else delete obj.metadata.namespace;
    if (obj.metadata.resourceVersion) throw badRequest('resourceVersion should not be set on objects to be created');
    if (!obj.metadata.name && obj.metadata.generateName) obj.metadata.name = `${obj.metadata.generateName}${randomSuffix()}`;
    // Status is owned by controllers: a create request cannot set it.
    if (def.statusSubresource && !['Node', 'HorizontalPodAutoscaler'].includes(def.kind)) delete obj.status;
    defaultObject(def.kind, obj);
    if (def.kind === 'Node') syncUnschedulableTaint(obj as KubeNode);
    validateCreate(def, obj);
    this.checkNamespaceWritable(scope);
    if (this.store.get(def, scope.namespace, obj.metadata.name ?? '')) throw alreadyExists(groupResource(def), obj.metadata.name ?? '');
    const prepared = this.store.prepareNew(def, obj);
    if (opts.dryRun) return toServedVersion(def, prepared, scope.version);
    const stored = this.store.insert(def, prepared);
    this.afterWrite();
    return toServedVersion(def, stored, scope.version);
  }

  /**
   * The common tail of PUT and PATCH: identity and system fields kept, optimistic concurrency,
   * status/spec split, validation, generation, and no write at all when nothing changed.
   */
  private commitUpdate(scope: Scope, current: KubeObject, proposed: KubeObject, opts: WriteOptions, subresource?: string): KubeObject {
    const { def } = scope;
    const name = current.metadata.name ?? '';
    const wantedVersion = proposed.metadata.resourceVersion;
    if (wantedVersion && wantedVersion !== current.metadata.resourceVersion) {
      throw conflict(groupResource(def), name, OPTIMISTIC_LOCK_MESSAGE);
    }
    let next = deepCopy(proposed);
    next.metadata = {
      ...next.metadata,
      name,
      uid: current.metadata.uid,
      creationTimestamp: current.metadata.creationTimestamp,
      resourceVersion: current.metadata.resourceVersion,
    };
    if (def.namespaced) next.metadata.namespace = current.metadata.namespace;
    else delete next.metadata.namespace;
    for (const key of ['generation', 'deletionTimestamp', 'deletionGracePeriodSeconds'] as const) {
      if (current.metadata[key] === undefined) delete next.metadata[key];
      else (next.metadata as Record<string, unknown>)[key] = current.metadata[key];
    }
    next.apiVersion = storageApiVersion(def);
    next.kind = def.kind;
    if (subresource === 'status') {
      const status = next.status;
      next = deepCopy(current);
      if (status === undefined) delete next.status;
      else next.status = status;
    } else if (def.statusSubresource) {
      if (current.status === undefined) delete next.status;
      else next.status = deepCopy(current.status);
    }
    if (subresource !== 'status') {
      defaultObject(def.kind, next);
      if (def.kind === 'Pod' || def.kind === 'Namespace') next.status = deepCopy(current.status);
      if (def.kind === 'Node') syncUnschedulableTaint(next as KubeNode);
      validateUpdate(def, current, next);
      if (def.hasGeneration && !deepEqual(current.spec, next.spec)) {
        next.metadata.generation = (current.metadata.generation ?? 0) + 1;
      }
    }
    if (deepEqual(next, current)) return toServedVersion(def, current, scope.version);
    if (opts.dryRun) return toServedVersion(def, next, scope.version);
    const stored = this.store.replace(def, next);
    this.afterWrite();
    return toServedVersion(def, stored, scope.version);
  }

  update(scope: Scope, name: string, body: unknown, opts: WriteOptions, subresource?: string): KubeObject {
    const requested = this.asObject(body);
    this.checkBodyIdentity(scope, requested, name);
    this.checkDecodable(scope, requested);
    const current = this.current(scope, name);
    return this.commitUpdate(scope, current, fromServedVersion(scope.def, requested, scope.version), opts, subresource);
  }

  private applyPatch(type: PatchType, target: unknown, patch: unknown): unknown {
    switch (type) {
      case 'merge':
      case 'apply':
        if (!isRecord(patch)) throw badRequest(`error decoding patch: json: cannot unmarshal ${Array.isArray(patch) ? 'array' : typeof patch} into Go value of type map[string]interface {}`);
        return mergePatch(target, patch);
      case 'strategic':
        if (!isRecord(patch)) throw badRequest(`json: cannot unmarshal ${Array.isArray(patch) ? 'array' : typeof patch} into Go value of type map[string]interface {}`);
        return strategicMergePatch(target, patch);
      case 'json': {
        const ops = decodeJsonPatch(patch);
        if (typeof ops === 'string') throw badRequest(ops);
        try {
          return applyJsonPatch(target, ops);
        } catch (err) {
          if (err instanceof PatchApplyError) throw genericUnprocessable();
          throw err;
        }
      }
    }
  }

  patch(scope: Scope, name: string, type: PatchType, patch: unknown, opts: WriteOptions, subresource?: string): KubeObject {
    const { def } = scope;
    if (type === 'apply' && !opts.fieldManager) {
      throw invalid({ group: 'meta.k8s.io', kind: 'PatchOptions' }, '', [
        { type: 'FieldValueRequired', field: 'fieldManager', detail: 'is required for apply patch' },
      ]);
    }
    const stored = this.store.get(def, scope.namespace, name);
    if (!stored) {
      // Server-side apply creates what does not exist; every other patch needs a target.
      if (type === 'apply') return this.create(scope, patch, opts);
      throw notFound(groupResource(def), name);
    }
    const served = toServedVersion(def, stored, scope.version);
    const patched = this.applyPatch(type, served, patch);
    if (!isRecord(patched) || !isRecord(patched['metadata'])) {
      throw invalid({ group: def.group, kind: def.kind }, name, [{ type: 'FieldValueRequired', field: 'metadata', detail: '' }]);
    }
    const result = patched as KubeObject;
    // The patched map is converted to the typed object: a quantity that does not parse fails there.
    if (invalidQuantity(def.kind, result) !== undefined) {
      throw invalid({ group: '', kind: '' }, '', [{ type: 'FieldValueInvalid', field: 'patch', value: JSON.stringify(patch), detail: QUANTITY_MESSAGE }]);
    }
    if (result.metadata.name !== undefined && result.metadata.name !== name) {
      throw badRequest(`the name of the object (${String(result.metadata.name)}) does not match the name on the URL (${name})`);
    }
    return this.commitUpdate(scope, stored, fromServedVersion(def, result, scope.version), opts, subresource);
  }

  private checkPreconditions(def: ResourceDef, current: KubeObject, options: DeleteOptions): void {
    const pre = options.preconditions;
    const name = current.metadata.name ?? '';
    if (pre?.uid && pre.uid !== current.metadata.uid) {
      throw conflict(groupResource(def), name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid ?? ''}`);
    }
    if (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
      throw conflict(
        groupResource(def),
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion ?? ''}`,
      );
    }
  }

  /** DELETE: pods answer with the pod, namespaces with the terminating namespace, the rest with a Status. */
  delete(scope: Scope, name: string, options: DeleteOptions, opts: WriteOptions): { code: number; body: unknown } {
    const { def } = scope;
    const current = this.current(scope, name);
    this.checkPreconditions(def, current, options);
    if (def === PODS) {
      const result = this.controllers.deletePod(current as Pod, options.gracePeriodSeconds, opts.dryRun);
      if (!opts.dryRun) this.afterWrite();
      return { code: 200, body: result };
    }
    if (def === NAMESPACES) {
      const marked = deepCopy(current);
      marked.metadata.deletionTimestamp ??= kubeTime();
      marked.status = { ...(marked.status ?? {}), phase: 'Terminating' };
      if (opts.dryRun) return { code: 200, body: marked };
      const stored = current.metadata.deletionTimestamp ? current : this.store.replace(NAMESPACES, marked);
      this.afterWrite();
      return { code: 200, body: stored };
    }
    const body = success(200, { name, group: def.group, kind: def.plural, uid: current.metadata.uid });
    if (opts.dryRun) return { code: 200, body };
    if (options.propagationPolicy === 'Orphan' || options.orphanDependents === true) this.orphanDependents(current);
    this.store.remove(def, scope.namespace, name);
    this.afterWrite();
    return { code: 200, body };
  }

  private orphanDependents(owner: KubeObject): void {
    for (const resource of [PODS, REPLICASETS]) {
      for (const dep of this.store.list(resource, owner.metadata.namespace)) {
        const refs = dep.metadata.ownerReferences ?? [];
        if (!refs.some((r) => r.uid === owner.metadata.uid)) continue;
        const rest = refs.filter((r) => r.uid !== owner.metadata.uid);
        if (rest.length > 0) dep.metadata.ownerReferences = rest;
        else delete dep.metadata.ownerReferences;
        this.store.replace(resource, dep);
      }
    }
  }

  // ---- scale subresource ----

  private assertScalable(def: ResourceDef): void {
    if (!SCALABLE.has(def.kind)) throw notFound({ group: def.group, resource: `${def.plural}/scale` }, '');
  }

  scaleOf(w: Workload): ScaleObject {
    const replicas = w.spec?.replicas ?? 0;
    const statusReplicas = typeof w.status?.['replicas'] === 'number' ? w.status['replicas'] : 0;
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name: w.metadata.name ?? '',
        namespace: w.metadata.namespace ?? '',
        uid: w.metadata.uid ?? '',
        resourceVersion: w.metadata.resourceVersion ?? '',
        creationTimestamp: w.metadata.creationTimestamp ?? '',
      },
      // ScaleSpec.replicas is `omitempty`: a workload scaled to zero shows `spec: {}`.
      spec: replicas === 0 ? {} : { replicas },
      status: { replicas: statusReplicas, selector: SimControllers.selectorString(w) },
    };
  }

  getScale(scope: Scope, name: string): ScaleObject {
    this.assertScalable(scope.def);
    return this.scaleOf(this.current(scope, name) as Workload);
  }

  private commitScale(scope: Scope, current: Workload, proposed: unknown, opts: WriteOptions): ScaleObject {
    const name = current.metadata.name ?? '';
    if (!isRecord(proposed)) throw badRequest('the body of the request was not a Scale object');
    const scale = proposed as { metadata?: { name?: string; resourceVersion?: string }; spec?: { replicas?: unknown } };
    if (scale.metadata?.name && scale.metadata.name !== name) {
      throw badRequest(`the name of the object (${scale.metadata.name}) does not match the name on the URL (${name})`);
    }
    const wantedVersion = scale.metadata?.resourceVersion;
    if (wantedVersion && wantedVersion !== current.metadata.resourceVersion) {
      throw conflict(groupResource(scope.def), name, OPTIMISTIC_LOCK_MESSAGE);
    }
    const replicas = scale.spec?.replicas ?? 0;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw invalid({ group: 'autoscaling', kind: 'Scale' }, name, [
        { type: 'FieldValueInvalid', field: 'spec.replicas', value: replicas, detail: 'must be greater than or equal to 0' },
      ]);
    }
    if (current.spec.replicas === replicas) return this.scaleOf(current);
    const next = deepCopy(current);
    next.spec.replicas = replicas;
    next.metadata.generation = (current.metadata.generation ?? 0) + 1;
    if (opts.dryRun) return this.scaleOf(next);
    const stored = this.store.replace(scope.def, next) as Workload;
    this.afterWrite();
    return this.scaleOf(stored);
  }

  updateScale(scope: Scope, name: string, body: unknown, opts: WriteOptions): ScaleObject {
    this.assertScalable(scope.def);
    if (isRecord(body) && body['kind'] !== undefined && body['kind'] !== 'Scale') {
      throw badRequest(`${String(body['kind'])} in version "v1" cannot be handled as a Scale`);
    }
    return this.commitScale(scope, this.current(scope, name) as Workload, body, opts);
  }

  patchScale(scope: Scope, name: string, type: PatchType, patch: unknown, opts: WriteOptions): ScaleObject {
    this.assertScalable(scope.def);
    const current = this.current(scope, name) as Workload;
    const patched = this.applyPatch(type, this.scaleOf(current), patch);
    return this.commitScale(scope, current, patched, opts);
  }

  // ---- eviction ----

  /**
   * POST pods/{name}/eviction, following pkg/registry/core/pod/storage/eviction.go: terminal,
   * pending and terminating pods go without a budget check; otherwise exactly one matching PDB
   * must allow a disruption. A dry run evaluates the budget but changes nothing.
   */
  evict(namespace: string, name: string, body: unknown, queryDryRun: boolean): StatusBody {
    if (!isRecord(body)) throw badRequest('the body of the request was not an Eviction object');
    const eviction = body as { kind?: unknown; metadata?: { name?: unknown }; deleteOptions?: unknown };
    if (eviction.kind !== undefined && eviction.kind !== 'Eviction') {
      throw badRequest(`${String(eviction.kind)} in version "v1" cannot be handled as a Eviction`);
    }
    if (isRecord(eviction.metadata) && eviction.metadata.name !== undefined && eviction.metadata.name !== name) {
      throw badRequest('name in URL does not match name in Eviction object');
    }
    const deleteOptions = (isRecord(eviction.deleteOptions) ? eviction.deleteOptions : {}) as DeleteOptions & { dryRun?: unknown };
    const bodyDryRun = Array.isArray(deleteOptions.dryRun) ? deleteOptions.dryRun : [];
    for (const v of bodyDryRun) {
      if (v !== 'All') {
        throw invalid({ group: 'meta.k8s.io', kind: 'DeleteOptions' }, '', [
          { type: 'FieldValueNotSupported', field: 'dryRun', display: `[]string{${bodyDryRun.map((x) => JSON.stringify(x)).join(', ')}}`, supported: ['All'] },
        ]);
      }
    }
    const dryRun = queryDryRun || bodyDryRun.length > 0;
    const scope: Scope = { def: PODS, version: 'v1', namespace };
    const pod = this.current(scope, name) as Pod;
    this.checkPreconditions(PODS, pod, deleteOptions);
    const phase = pod.status?.phase;
    const evictAndSucceed = (): StatusBody => {
      this.controllers.deletePod(pod, deleteOptions.gracePeriodSeconds, dryRun);
      if (!dryRun) this.afterWrite();
      return success(201);
    };
    if (phase === 'Pending' || isFinished(pod) || isTerminating(pod)) return evictAndSucceed();
    const pdbs = (this.store.list(PDBS, namespace) as PodDisruptionBudget[]).filter((pdb) => podsSelectedBy(pdb, [pod]).length > 0);
    if (pdbs.length > 1) {
      throw internalError('This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
    }
    const pdb = pdbs[0];
    if (!pdb) return evictAndSucceed();
    const status = pdb.status ?? computePdbStatus(pdb, this.store.list(PODS, namespace) as Pod[], { byUid: () => undefined });
    if (!isReady(pod)) {
      // An unready pod is not counting toward the budget: evicting it costs nothing if the
      // budget is met, and AlwaysAllow lifts even that condition.
      if (pdb.spec?.unhealthyPodEvictionPolicy === 'AlwaysAllow') return evictAndSucceed();
      if (status.currentHealthy >= status.desiredHealthy && status.desiredHealthy > 0) return evictAndSucceed();
    }
    if (status.disruptionsAllowed < 0) {
      throw forbidden({ group: 'policy', resource: 'poddisruptionbudget' }, pdb.metadata.name ?? '', 'pdb disruptions allowed is negative');
    }
    if (status.disruptionsAllowed === 0) {
      throw tooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", [
        {
          reason: 'DisruptionBudget',
          message: `The disruption budget ${pdb.metadata.name ?? ''} needs ${status.desiredHealthy} healthy pods and has ${status.currentHealthy} currently`,
        },
      ]);
    }
    if (!dryRun) {
      const updated = deepCopy(pdb);
      updated.status = {
        ...status,
        disruptionsAllowed: status.disruptionsAllowed - 1,
        disruptedPods: { ...((status['disruptedPods'] as Record<string, string> | undefined) ?? {}), [name]: kubeTime() },
      };
      this.store.replace(PDBS, updated);
    }
    return evictAndSucceed();
  }
}
