/**
 * The sim's etcd: objects by resource, namespace and name, and one global revision counter that
 * every write advances and stamps into metadata.resourceVersion, as etcd's revision does. Reads
 * hand out copies so neither HTTP clients nor tests can change stored state behind its back.
 */
import { randomUUID } from 'node:crypto';
import { deepCopy, objectKey, type KubeObject } from './kube-types.js';
import { resourceKey, storageApiVersion, type ResourceDef } from './resources.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreChange {
  type: WatchEventType;
  resource: ResourceDef;
  object: KubeObject;
}

export type StoreListener = (change: StoreChange) => void;

/** How many past changes a watch can resume from, like the apiserver's watch cache window. */
const HISTORY_LIMIT = 5000;

/** RFC 3339 with second precision, the way metav1.Time serialises. */
export function kubeTime(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** metav1.MicroTime, used by events and leases. */
export function kubeMicroTime(date: Date = new Date()): string {
  return date.toISOString().replace(/Z$/, '000Z');
}

export class SimStore {
  private revision: number;
  private readonly buckets = new Map<string, Map<string, KubeObject>>();
  private readonly listeners = new Set<StoreListener>();
  private readonly history: StoreChange[] = [];

  constructor(initialRevision = 1000) {
    this.revision = initialRevision;
  }

  /** The newest revision, as list responses report it. */
  get resourceVersion(): string {
    return String(this.revision);
  }

  private bucket(def: ResourceDef): Map<string, KubeObject> {
    const key = resourceKey(def);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new Map();
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  get(def: ResourceDef, namespace: string | undefined, name: string): KubeObject | undefined {
    const found = this.bucket(def).get(objectKey(def.namespaced ? namespace : undefined, name));
    return found ? deepCopy(found) : undefined;
  }

  /** Objects of a resource, in one namespace or all, ordered by namespace then name. */
  list(def: ResourceDef, namespace?: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const obj of this.bucket(def).values()) {
      if (namespace && def.namespaced && obj.metadata.namespace !== namespace) continue;
      out.push(deepCopy(obj));
    }
    return out.sort((a, b) =>
      objectKey(a.metadata.namespace, a.metadata.name ?? '').localeCompare(objectKey(b.metadata.namespace, b.metadata.name ?? '')),
    );
  }

  /**
   * Fills the server-owned metadata of a new object without storing it; dry-run creates show
   * exactly this (no resourceVersion: nothing was written).
   */
  prepareNew(def: ResourceDef, obj: KubeObject): KubeObject {
    const out = deepCopy(obj);
    out.apiVersion = storageApiVersion(def);
    out.kind = def.kind;
    out.metadata.uid = randomUUID();
    out.metadata.creationTimestamp = kubeTime();
    delete out.metadata.resourceVersion;
    if (def.hasGeneration) out.metadata.generation = 1;
    else delete out.metadata.generation;
    return out;
  }

  /** Stores an object prepared by prepareNew (or with its own uid, e.g. a recreated seed object). */
  insert(def: ResourceDef, prepared: KubeObject): KubeObject {
    const out = deepCopy(prepared);
    if (!out.metadata.uid) out.metadata.uid = randomUUID();
    if (!out.metadata.creationTimestamp) out.metadata.creationTimestamp = kubeTime();
    out.apiVersion = storageApiVersion(def);
    out.kind = def.kind;
    out.metadata.resourceVersion = String(++this.revision);
    this.bucket(def).set(objectKey(def.namespaced ? out.metadata.namespace : undefined, out.metadata.name ?? ''), out);
    this.emit({ type: 'ADDED', resource: def, object: out });
    return deepCopy(out);
  }

  /** Writes a new state of an existing object. The caller has already checked preconditions. */
  replace(def: ResourceDef, obj: KubeObject): KubeObject {
    const out = deepCopy(obj);
    out.apiVersion = storageApiVersion(def);
    out.kind = def.kind;
    out.metadata.resourceVersion = String(++this.revision);
    this.bucket(def).set(objectKey(def.namespaced ? out.metadata.namespace : undefined, out.metadata.name ?? ''), out);
    this.emit({ type: 'MODIFIED', resource: def, object: out });
    return deepCopy(out);
  }

  remove(def: ResourceDef, namespace: string | undefined, name: string): KubeObject | undefined {
    const key = objectKey(def.namespaced ? namespace : undefined, name);
    const bucket = this.bucket(def);
    const found = bucket.get(key);
    if (!found) return undefined;
    bucket.delete(key);
    // A delete is a write too: watchers see it at a new revision.
    const gone = deepCopy(found);
    gone.metadata.resourceVersion = String(++this.revision);
    this.emit({ type: 'DELETED', resource: def, object: gone });
    return deepCopy(gone);
  }

  /**
   * Changes after `resourceVersion`, oldest first, for a watch that resumes from a list; undefined
   * when that version is older than the kept history (the server answers 410 Gone then).
   */
  changesSince(resourceVersion: number): StoreChange[] | undefined {
    const oldest = this.history[0];
    if (oldest && Number(oldest.object.metadata.resourceVersion) > resourceVersion + 1 && this.history.length >= HISTORY_LIMIT) {
      return undefined;
    }
    return this.history
      .filter((c) => Number(c.object.metadata.resourceVersion) > resourceVersion)
      .map((c) => ({ ...c, object: deepCopy(c.object) }));
  }

  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: StoreChange): void {
    this.history.push(change);
    if (this.history.length > HISTORY_LIMIT) this.history.shift();
    for (const listener of this.listeners) {
      try {
        listener({ ...change, object: deepCopy(change.object) });
      } catch {
        // A broken watcher must not break the write that notified it.
      }
    }
  }
}
