/**
 * Server-side defaulting and validation for the served resources: the checks whose failures a
 * client must be able to tell apart (422 Invalid with a field path), not the whole of
 * pkg/apis/.../validation. Messages follow the real validators word for word where it matters.
 */
import type {
  Container,
  KubeNode,
  KubeObject,
  LabelSelector,
  Pod,
  PodDisruptionBudget,
  PodTemplate,
  Workload,
} from './kube-types.js';
import { isRecord } from './kube-types.js';
import { parseQuantity } from '../domain/quantity.js';
import { deepEqual } from './patch.js';
import type { ResourceDef } from './resources.js';
import { matchesLabelSelector } from './selectors.js';
import { invalid, type FieldError } from './status.js';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MESSAGE =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

export function dnsSubdomainErrors(value: string, field: string): FieldError[] {
  const errors: FieldError[] = [];
  if (value.length > 253) {
    errors.push({ type: 'FieldValueInvalid', field, value, detail: 'must be no more than 253 characters' });
  }
  if (!DNS1123_SUBDOMAIN.test(value)) errors.push({ type: 'FieldValueInvalid', field, value, detail: SUBDOMAIN_MESSAGE });
  return errors;
}

export function dnsLabelErrors(value: string, field: string): FieldError[] {
  const errors: FieldError[] = [];
  if (value.length > 63) errors.push({ type: 'FieldValueInvalid', field, value, detail: 'must be no more than 63 characters' });
  if (!DNS1123_LABEL.test(value)) errors.push({ type: 'FieldValueInvalid', field, value, detail: LABEL_MESSAGE });
  return errors;
}

function nameErrors(def: ResourceDef, obj: KubeObject): FieldError[] {
  const name = obj.metadata.name;
  if (!name) {
    return [{ type: 'FieldValueRequired', field: 'metadata.name', detail: 'name or generateName is required' }];
  }
  return def.plural === 'namespaces' ? dnsLabelErrors(name, 'metadata.name') : dnsSubdomainErrors(name, 'metadata.name');
}

function isInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

function replicasErrors(value: unknown, field: string): FieldError[] {
  if (value === undefined) return [];
  if (!isInt(value)) return [{ type: 'FieldValueInvalid', field, value, detail: 'must be an integer' }];
  if (value < 0) return [{ type: 'FieldValueInvalid', field, value, detail: 'must be greater than or equal to 0' }];
  return [];
}

/** What resource.Quantity's decoder says about a string it cannot parse. */
export const QUANTITY_MESSAGE = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;

export function isQuantity(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  return typeof value === 'string' && QUANTITY.test(value);
}

/** The pod specs an object carries: a pod's own, a workload's template. */
function podSpecsOf(kind: string, obj: KubeObject): Record<string, unknown>[] {
  if (kind === 'Pod') return isRecord(obj.spec) ? [obj.spec] : [];
  if (['Deployment', 'StatefulSet', 'ReplicaSet', 'DaemonSet'].includes(kind)) {
    const template = (obj as Workload).spec?.template;
    return isRecord(template) && isRecord(template.spec) ? [template.spec as Record<string, unknown>] : [];
  }
  return [];
}

/**
 * The first resource quantity (limits, requests) of the object's containers that does not parse.
 * On a real server that is a decoding failure: 400 for a create or update, 422 on the field
 * `patch` for a patch.
 */
export function invalidQuantity(kind: string, obj: KubeObject): string | undefined {
  for (const spec of podSpecsOf(kind, obj)) {
    for (const list of [spec['containers'], spec['initContainers']]) {
      if (!Array.isArray(list)) continue;
      for (const c of list) {
        const resources = isRecord(c) && isRecord(c['resources']) ? c['resources'] : {};
        for (const part of ['limits', 'requests']) {
          const values = resources[part];
          if (!isRecord(values)) continue;
          for (const value of Object.values(values)) if (!isQuantity(value)) return String(value);
        }
      }
    }
  }
  return undefined;
}

/** ValidateResourceRequirements: a request may not exceed the limit of the same resource. */
function resourcesErrors(container: Partial<Container>, field: string): FieldError[] {
  const limits = container.resources?.limits ?? {};
  const requests = container.resources?.requests ?? {};
  const errors: FieldError[] = [];
  for (const [name, request] of Object.entries(requests)) {
    const limit = limits[name];
    if (limit === undefined) continue;
    const [r, l] = [parseQuantity(request), parseQuantity(limit)];
    if (Number.isFinite(r) && Number.isFinite(l) && r > l) {
      errors.push({ type: 'FieldValueInvalid', field: `${field}.resources.requests[${name}]`, value: String(request), detail: `must be less than or equal to ${name} limit of ${String(limit)}` });
    }
  }
  return errors;
}

function containersErrors(containers: unknown, field: string): FieldError[] {
  if (!Array.isArray(containers) || containers.length === 0) return [{ type: 'FieldValueRequired', field, detail: '' }];
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  containers.forEach((c: unknown, i) => {
    const container = (isRecord(c) ? c : {}) as Partial<Container>;
    const name = typeof container.name === 'string' ? container.name : '';
    if (!name) errors.push({ type: 'FieldValueRequired', field: `${field}[${i}].name`, detail: '' });
    else {
      errors.push(...dnsLabelErrors(name, `${field}[${i}].name`));
      if (seen.has(name)) errors.push({ type: 'FieldValueDuplicate', field: `${field}[${i}].name`, value: name });
      seen.add(name);
    }
    if (!container.image) errors.push({ type: 'FieldValueRequired', field: `${field}[${i}].image`, detail: '' });
    errors.push(...resourcesErrors(container, `${field}[${i}]`));
  });
  return errors;
}

function goMapLiteral(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
  return `map[string]string{${entries.join(', ')}}`;
}

function templateErrors(selector: LabelSelector | undefined, template: PodTemplate | undefined): FieldError[] {
  const errors: FieldError[] = [];
  if (!selector) errors.push({ type: 'FieldValueRequired', field: 'spec.selector', detail: '' });
  else if (Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0) {
    errors.push({ type: 'FieldValueInvalid', field: 'spec.selector', value: 'null', display: 'null', detail: 'empty selector is invalid for deployment' });
  }
  if (!template || !isRecord(template.spec)) {
    errors.push({ type: 'FieldValueRequired', field: 'spec.template', detail: '' });
    return errors;
  }
  const labels = template.metadata?.labels;
  if (selector && !matchesLabelSelector(labels, selector)) {
    errors.push({
      type: 'FieldValueInvalid',
      field: 'spec.template.metadata.labels',
      display: goMapLiteral(labels),
      detail: '`selector` does not match template `labels`',
    });
  }
  errors.push(...containersErrors(template.spec.containers, 'spec.template.spec.containers'));
  return errors;
}

const PERCENT = /^([0-9]+)%$/;

function intOrPercentErrors(value: unknown, field: string): FieldError[] {
  if (value === undefined) return [];
  if (isInt(value)) {
    return value < 0 ? [{ type: 'FieldValueInvalid', field, value, detail: 'must be greater than or equal to 0' }] : [];
  }
  if (typeof value === 'string') {
    const m = PERCENT.exec(value);
    if (!m) return [{ type: 'FieldValueInvalid', field, value, detail: "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')" }];
    if (Number(m[1]) > 100) return [{ type: 'FieldValueInvalid', field, value, detail: 'must not be greater than 100%' }];
    return [];
  }
  return [{ type: 'FieldValueInvalid', field, value, detail: 'must be an integer or percentage (e.g \'5%\')' }];
}

const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

function nodeErrors(node: KubeNode): FieldError[] {
  const errors: FieldError[] = [];
  const taints = node.spec?.taints;
  if (taints === undefined) return errors;
  if (!Array.isArray(taints)) return [{ type: 'FieldValueInvalid', field: 'spec.taints', value: taints, detail: 'must be a list' }];
  const seen = new Set<string>();
  taints.forEach((t, i) => {
    const field = `spec.taints[${i}]`;
    if (!t.key) errors.push({ type: 'FieldValueRequired', field: `${field}.key`, detail: '' });
    if (!TAINT_EFFECTS.includes(t.effect)) {
      errors.push({ type: 'FieldValueNotSupported', field: `${field}.effect`, value: t.effect ?? '', supported: TAINT_EFFECTS });
    }
    const id = `${t.key}:${t.effect}`;
    if (seen.has(id)) {
      errors.push({ type: 'FieldValueDuplicate', field, value: t, display: `core.Taint{Key:${JSON.stringify(t.key)}, Value:${JSON.stringify(t.value ?? '')}, Effect:${JSON.stringify(t.effect)}}` });
    }
    seen.add(id);
  });
  return errors;
}

function eventErrors(obj: KubeObject): FieldError[] {
  const errors: FieldError[] = [];
  const involved = isRecord(obj['involvedObject']) ? obj['involvedObject'] : {};
  const involvedNs = typeof involved['namespace'] === 'string' ? involved['namespace'] : '';
  const ns = obj.metadata.namespace ?? '';
  const hasEventTime = typeof obj['eventTime'] === 'string' && obj['eventTime'] !== '';
  const mismatch = { type: 'FieldValueInvalid' as const, field: 'involvedObject.namespace', value: involvedNs, detail: 'does not match event.namespace' };
  if (!hasEventTime) {
    // Cluster-scoped objects (Nodes) may be recorded in "" or "default" for old clients.
    if (involvedNs === '' ? ns !== '' && ns !== 'default' : ns !== involvedNs) errors.push(mismatch);
  } else {
    if (involvedNs === '' && ns !== 'default' && ns !== 'kube-system') errors.push(mismatch);
    for (const field of ['reportingComponent', 'reportingInstance', 'action', 'reason']) {
      if (!obj[field]) errors.push({ type: 'FieldValueRequired', field, detail: '' });
    }
    const message = obj['message'];
    if (typeof message === 'string' && message.length > 1024) {
      errors.push({ type: 'FieldValueInvalid', field: 'message', value: '', detail: 'can have at most 1024 characters' });
    }
  }
  return errors;
}

function hpaErrors(obj: KubeObject): FieldError[] {
  const spec = obj.spec ?? {};
  const errors: FieldError[] = [];
  const ref = isRecord(spec['scaleTargetRef']) ? spec['scaleTargetRef'] : undefined;
  if (!ref?.['kind']) errors.push({ type: 'FieldValueRequired', field: 'spec.scaleTargetRef.kind', detail: '' });
  if (!ref?.['name']) errors.push({ type: 'FieldValueRequired', field: 'spec.scaleTargetRef.name', detail: '' });
  const max = spec['maxReplicas'];
  const min = spec['minReplicas'];
  if (!isInt(max) || max < 1) errors.push({ type: 'FieldValueInvalid', field: 'spec.maxReplicas', value: max ?? 0, detail: 'must be greater than 0' });
  if (min !== undefined && (!isInt(min) || min < 1)) {
    errors.push({ type: 'FieldValueInvalid', field: 'spec.minReplicas', value: min, detail: 'must be greater than or equal to 1' });
  }
  if (isInt(min) && isInt(max) && min > max) {
    errors.push({ type: 'FieldValueInvalid', field: 'spec.maxReplicas', value: max, detail: 'must be greater than or equal to `minReplicas`' });
  }
  return errors;
}

function specErrors(def: ResourceDef, obj: KubeObject): FieldError[] {
  switch (def.kind) {
    case 'Pod':
      return containersErrors((obj as Pod).spec?.containers, 'spec.containers');
    case 'Deployment':
    case 'StatefulSet':
    case 'ReplicaSet': {
      const w = obj as Workload;
      return [...replicasErrors(w.spec?.replicas, 'spec.replicas'), ...templateErrors(w.spec?.selector, w.spec?.template)];
    }
    case 'DaemonSet': {
      const w = obj as Workload;
      return templateErrors(w.spec?.selector, w.spec?.template);
    }
    case 'PodDisruptionBudget': {
      const spec = (obj as PodDisruptionBudget).spec ?? {};
      const errors = [
        ...intOrPercentErrors(spec.minAvailable, 'spec.minAvailable'),
        ...intOrPercentErrors(spec.maxUnavailable, 'spec.maxUnavailable'),
      ];
      if (spec.minAvailable !== undefined && spec.maxUnavailable !== undefined) {
        errors.push({ type: 'FieldValueInvalid', field: 'spec', value: spec, display: 'policy.PodDisruptionBudgetSpec{...}', detail: 'minAvailable and maxUnavailable cannot be both set' });
      }
      return errors;
    }
    case 'Node':
      return nodeErrors(obj as KubeNode);
    case 'Event':
      return eventErrors(obj);
    case 'HorizontalPodAutoscaler':
      return hpaErrors(obj);
    default:
      return [];
  }
}

function groupKindOf(def: ResourceDef): { group: string; kind: string } {
  return { group: def.group, kind: def.kind };
}

/** 422 Invalid for a new object. */
export function validateCreate(def: ResourceDef, obj: KubeObject): void {
  const errors = [...nameErrors(def, obj), ...specErrors(def, obj)];
  if (errors.length > 0) throw invalid(groupKindOf(def), obj.metadata.name ?? '', errors);
}

/** 422 Invalid for an update: the create rules plus the immutable fields clients trip over. */
export function validateUpdate(def: ResourceDef, oldObj: KubeObject, newObj: KubeObject): void {
  const errors = specErrors(def, newObj);
  const name = newObj.metadata.name ?? '';
  if (['Deployment', 'StatefulSet', 'ReplicaSet', 'DaemonSet'].includes(def.kind)) {
    const before = (oldObj as Workload).spec?.selector;
    const after = (newObj as Workload).spec?.selector;
    if (!deepEqual(before, after)) {
      errors.push({ type: 'FieldValueInvalid', field: 'spec.selector', value: after, display: 'v1.LabelSelector{...}', detail: 'field is immutable' });
    }
  }
  if (def.kind === 'Pod') {
    const oldSpec = { ...((oldObj as Pod).spec ?? {}) } as Record<string, unknown>;
    const newSpec = { ...((newObj as Pod).spec ?? {}) } as Record<string, unknown>;
    // The few pod spec fields that may change in place; images stand in for the container list.
    const images = (spec: Record<string, unknown>) =>
      (Array.isArray(spec['containers']) ? spec['containers'] : []).map((c: unknown) => (isRecord(c) ? { ...c, image: undefined } : c));
    const comparable = (spec: Record<string, unknown>) => ({
      ...spec,
      containers: images(spec),
      activeDeadlineSeconds: undefined,
      tolerations: undefined,
      terminationGracePeriodSeconds: undefined,
    });
    if (!deepEqual(JSON.parse(JSON.stringify(comparable(oldSpec))), JSON.parse(JSON.stringify(comparable(newSpec))))) {
      errors.push({
        type: 'FieldValueForbidden',
        field: 'spec',
        detail: 'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
      });
    }
  }
  if (errors.length > 0) throw invalid(groupKindOf(def), name, errors);
}
