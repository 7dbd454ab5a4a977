/**
 * The three patch formats kube-apiserver accepts for built-in types. The strategic merge patch is
 * a deliberately small model of k8s.io/apimachinery/pkg/util/strategicpatch: it knows the merge
 * keys of the lists remediation tools and kubectl touch, and treats every other list as atomic,
 * which is also what the real server does for lists without a patch strategy (e.g. node taints).
 */
import { deepCopy, isRecord } from './kube-types.js';

/** A patch that is well-formed but cannot be applied to this document (RFC 6902 failure). */
export class PatchApplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PatchApplyError';
  }
}

/** RFC 7386. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return deepCopy(patch);
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

// Field name → merge key, as declared by `patchMergeKey` in k8s.io/api. Keyed by field name
// only: the few names that mean different things in different types do not meet in the
// resources the sim serves.
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  hostAliases: 'ip',
  ports: 'containerPort',
  conditions: 'type',
  addresses: 'type',
  ownerReferences: 'uid',
  resourceClaims: 'name',
};

// Lists of scalars declared `patchStrategy:"merge"`: the patch adds to them instead of replacing.
const MERGED_PRIMITIVE_LISTS = new Set(['finalizers']);

export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  const result = strategicMergeValue(target, patch);
  return result === DELETE ? {} : result;
}

const DELETE = Symbol('delete');

function withoutDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDirectives);
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith('$')) continue;
    out[k] = withoutDirectives(v);
  }
  return out;
}

function strategicMergeValue(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return deepCopy(patch);
  const directive = patch['$patch'];
  if (directive === 'replace') return withoutDirectives(patch);
  if (directive === 'delete') return DELETE;
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  let retainKeys: string[] | undefined;
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch' || key.startsWith('$setElementOrder/')) continue;
    if (key === '$retainKeys') {
      if (Array.isArray(value)) retainKeys = value.filter((v): v is string => typeof v === 'string');
      continue;
    }
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const field = key.slice('$deleteFromPrimitiveList/'.length);
      const current = out[field];
      if (Array.isArray(current) && Array.isArray(value)) {
        out[field] = current.filter((item) => !value.some((v) => deepEqual(v, item)));
      }
      continue;
    }
    if (value === null) {
      delete out[key];
    } else if (Array.isArray(value)) {
      out[key] = mergeList(key, out[key], value);
    } else {
      const merged = strategicMergeValue(out[key], value);
      if (merged === DELETE) delete out[key];
      else out[key] = merged;
    }
  }
  if (retainKeys) {
    for (const key of Object.keys(out)) if (!retainKeys.includes(key)) delete out[key];
  }
  return out;
}

function mergeList(field: string, current: unknown, patch: unknown[]): unknown[] {
  if (MERGED_PRIMITIVE_LISTS.has(field)) {
    const base = Array.isArray(current) ? [...current] : [];
    for (const item of patch) if (!base.some((b) => deepEqual(b, item))) base.push(item);
    return base;
  }
  const mergeKey = MERGE_KEYS[field];
  if (!mergeKey) return withoutDirectives(patch) as unknown[];
  if (patch.some((e) => isRecord(e) && e['$patch'] === 'replace')) {
    return withoutDirectives(patch.filter((e) => !(isRecord(e) && e['$patch'] === 'replace'))) as unknown[];
  }
  const result: unknown[] = Array.isArray(current) ? [...current] : [];
  for (const element of patch) {
    if (!isRecord(element) || element[mergeKey] === undefined) {
      result.push(withoutDirectives(element));
      continue;
    }
    const index = result.findIndex((r) => isRecord(r) && deepEqual(r[mergeKey], element[mergeKey]));
    if (element['$patch'] === 'delete') {
      if (index >= 0) result.splice(index, 1);
      continue;
    }
    if (index >= 0) {
      const merged = strategicMergeValue(result[index], element);
      if (merged === DELETE) result.splice(index, 1);
      else result[index] = merged;
    } else {
      result.push(withoutDirectives(element));
    }
  }
  return result;
}

export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

const JSON_PATCH_OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

/** Checks the shape of a decoded body; returns an error message (as Go's decoder words it) or the operations. */
export function decodeJsonPatch(body: unknown): JsonPatchOperation[] | string {
  if (!Array.isArray(body)) {
    const kind = isRecord(body) ? 'object' : body === null ? 'null' : typeof body;
    return `error decoding patch: json: cannot unmarshal ${kind} into Go value of type []handlers.jsonPatchOp`;
  }
  for (const op of body) {
    if (!isRecord(op)) return 'error decoding patch: json: cannot unmarshal value into Go value of type handlers.jsonPatchOp';
  }
  return body as JsonPatchOperation[];
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchApplyError(`invalid JSON pointer: ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function resolveParent(doc: unknown, segments: string[], pointer: string): unknown {
  let node = doc;
  for (const segment of segments.slice(0, -1)) {
    if (Array.isArray(node)) node = node[arrayIndex(segment, node.length - 1, pointer)];
    else if (isRecord(node) && segment in node) node = node[segment];
    else throw new PatchApplyError(`doc is missing path: ${JSON.stringify(pointer)}: missing value`);
  }
  return node;
}

function arrayIndex(segment: string, max: number, pointer: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(segment)) throw new PatchApplyError(`invalid array index in ${pointer}`);
  const index = Number(segment);
  if (index > max) throw new PatchApplyError(`index out of bounds in ${pointer}`);
  return index;
}

function getAt(doc: unknown, pointer: string): unknown {
  let node = doc;
  for (const segment of parsePointer(pointer)) {
    if (Array.isArray(node)) node = node[arrayIndex(segment, node.length - 1, pointer)];
    else if (isRecord(node) && segment in node) node = node[segment];
    else throw new PatchApplyError(`doc is missing path: ${JSON.stringify(pointer)}: missing value`);
  }
  return node;
}

function addAt(doc: unknown, pointer: string, value: unknown): unknown {
  const segments = parsePointer(pointer);
  if (segments.length === 0) return value;
  const parent = resolveParent(doc, segments, pointer);
  const last = segments[segments.length - 1] as string;
  if (Array.isArray(parent)) {
    if (last === '-') parent.push(value);
    else parent.splice(arrayIndex(last, parent.length, pointer), 0, value);
  } else if (isRecord(parent)) {
    parent[last] = value;
  } else {
    throw new PatchApplyError(`add operation does not apply: doc is missing path: ${JSON.stringify(pointer)}: missing value`);
  }
  return doc;
}

function removeAt(doc: unknown, pointer: string, op: string): unknown {
  const segments = parsePointer(pointer);
  if (segments.length === 0) throw new PatchApplyError(`${op} operation does not apply to the document root`);
  const parent = resolveParent(doc, segments, pointer);
  const last = segments[segments.length - 1] as string;
  if (Array.isArray(parent)) {
    parent.splice(arrayIndex(last, parent.length - 1, pointer), 1);
  } else if (isRecord(parent) && last in parent) {
    delete parent[last];
  } else {
    throw new PatchApplyError(`Unable to remove nonexistent key: ${last}: missing value`);
  }
  return doc;
}

/** RFC 6902; throws PatchApplyError when an operation does not apply (including a failed `test`). */
export function applyJsonPatch(target: unknown, operations: JsonPatchOperation[]): unknown {
  let doc = deepCopy(target);
  for (const operation of operations) {
    const { op, path } = operation;
    if (!JSON_PATCH_OPS.has(op)) throw new PatchApplyError(`Unexpected kind: ${String(op)}`);
    if (typeof path !== 'string') throw new PatchApplyError(`operation missing path`);
    switch (op) {
      case 'add':
        doc = addAt(doc, path, deepCopy(operation.value));
        break;
      case 'remove':
        doc = removeAt(doc, path, op);
        break;
      case 'replace':
        getAt(doc, path);
        if (path === '') doc = deepCopy(operation.value);
        else {
          doc = removeAt(doc, path, op);
          doc = addAt(doc, path, deepCopy(operation.value));
        }
        break;
      case 'move': {
        const from = operation.from ?? '';
        const value = getAt(doc, from);
        doc = removeAt(doc, from, op);
        doc = addAt(doc, path, value);
        break;
      }
      case 'copy':
        doc = addAt(doc, path, deepCopy(getAt(doc, operation.from ?? '')));
        break;
      case 'test': {
        let actual: unknown;
        try {
          actual = getAt(doc, path);
        } catch {
          actual = undefined;
        }
        if (!deepEqual(actual, operation.value ?? null)) {
          throw new PatchApplyError(`testing value ${path} failed: test failed`);
        }
        break;
      }
    }
  }
  return doc;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isRecord(a) && isRecord(b)) {
    const keysA = Object.keys(a);
    const keysB = Object.keys(b);
    return keysA.length === keysB.length && keysA.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}
