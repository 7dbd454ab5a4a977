/**
 * The seed file: the starting state of a simulated cluster. Nodes and namespaces are written in
 * a short form; workloads, PDBs and HPAs as ordinary manifests; and `pods` pins pods whose
 * names and state must be exact (a pod named in a captured alert, an OOM-killed container, a
 * mirror or unmanaged pod). Everything else is created by the sim's controllers.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { KubeObject, PodSpec, Taint } from './kube-types.js';
import { isRecord } from './kube-types.js';

export interface SeedOptions {
  /** Milliseconds from scheduling to Running+Ready (default 200; 0 = at once). */
  readyDelayMs?: number;
  /** Milliseconds a gracefully deleted pod stays terminating (default 0 = removed at once). */
  terminationDelayMs?: number;
}

export interface SeedNode {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Allocatable `nvidia.com/gpu` (0 or absent: a CPU node). */
  gpus?: number;
  /** Value of the `nvidia.com/gpu.product` label. */
  gpuProduct?: string;
  cpu?: string;
  memory?: string;
  unschedulable?: boolean;
  taints?: Taint[];
  /** Ready condition (default true). */
  ready?: boolean;
}

export interface SeedNamespace {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface SeedPod {
  name: string;
  namespace: string;
  /**
   * `Kind/name` of the controller: Deployment (the ReplicaSet name is the pod name without its
   * last segment), ReplicaSet, StatefulSet (name `<sts>-<ordinal>`), DaemonSet, or Node (a
   * mirror pod). Absent: an unmanaged pod.
   */
  owner?: string;
  /** Node to run on; absent = left to the scheduler. */
  node?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Required for unmanaged and mirror pods; owned pods use their controller's template. */
  spec?: PodSpec;
  /** Container names whose last termination was an OOM kill (exit 137). */
  oomKilled?: string[];
  /** restartCount of the OOM-killed containers (default 3). */
  restartCount?: number;
}

export interface SimSeed {
  options?: SeedOptions;
  nodes?: SeedNode[];
  namespaces?: SeedNamespace[];
  /** Manifests created in order: Deployments, StatefulSets, DaemonSets, PDBs, HPAs, Events, ... */
  objects?: KubeObject[];
  pods?: SeedPod[];
}

export class SeedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SeedError';
  }
}

const OWNER_KINDS = ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Node'];

class Checker {
  readonly problems: string[] = [];

  problem(path: string, message: string): void {
    this.problems.push(`${path}: ${message}`);
  }

  keys(value: Record<string, unknown>, path: string, allowed: string[]): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.problem(`${path}.${key}`, `unknown field (allowed: ${allowed.join(', ')})`);
    }
  }

  string(value: unknown, path: string, required: boolean): void {
    if (value === undefined && !required) return;
    if (typeof value !== 'string' || value === '') this.problem(path, 'expected a non-empty string');
  }

  number(value: unknown, path: string, min = 0): void {
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) this.problem(path, `expected an integer >= ${min}`);
  }

  boolean(value: unknown, path: string): void {
    if (value !== undefined && typeof value !== 'boolean') this.problem(path, 'expected true or false');
  }

  stringMap(value: unknown, path: string): void {
    if (value === undefined) return;
    if (!isRecord(value) || Object.values(value).some((v) => typeof v !== 'string')) {
      this.problem(path, 'expected a map of strings (quote values such as "true")');
    }
  }

  list(value: unknown, path: string): unknown[] {
    if (value === undefined) return [];
    if (!Array.isArray(value)) {
      this.problem(path, 'expected a list');
      return [];
    }
    return value;
  }

  record(value: unknown, path: string): Record<string, unknown> | undefined {
    if (!isRecord(value)) {
      this.problem(path, 'expected a map');
      return undefined;
    }
    return value;
  }
}

/** Checks a parsed seed document; throws SeedError listing every problem with its path. */
export function validateSeed(doc: unknown, source: string): SimSeed {
  const c = new Checker();
  const root = c.record(doc ?? {}, '(root)');
  if (root) {
    c.keys(root, '(root)', ['options', 'nodes', 'namespaces', 'objects', 'pods']);
    if (root['options'] !== undefined) {
      const options = c.record(root['options'], 'options');
      if (options) {
        c.keys(options, 'options', ['readyDelayMs', 'terminationDelayMs']);
        c.number(options['readyDelayMs'], 'options.readyDelayMs');
        c.number(options['terminationDelayMs'], 'options.terminationDelayMs');
      }
    }
    const nodeNames = new Set<string>();
    c.list(root['nodes'], 'nodes').forEach((n, i) => {
      const path = `nodes[${i}]`;
      const node = c.record(n, path);
      if (!node) return;
      c.keys(node, path, ['name', 'labels', 'annotations', 'gpus', 'gpuProduct', 'cpu', 'memory', 'unschedulable', 'taints', 'ready']);
      c.string(node['name'], `${path}.name`, true);
      if (typeof node['name'] === 'string') {
        if (nodeNames.has(node['name'])) c.problem(`${path}.name`, `duplicate node ${node['name']}`);
        nodeNames.add(node['name']);
      }
      c.stringMap(node['labels'], `${path}.labels`);
      c.stringMap(node['annotations'], `${path}.annotations`);
      c.number(node['gpus'], `${path}.gpus`);
      c.string(node['gpuProduct'], `${path}.gpuProduct`, false);
      c.string(node['cpu'], `${path}.cpu`, false);
      c.string(node['memory'], `${path}.memory`, false);
      c.boolean(node['unschedulable'], `${path}.unschedulable`);
      c.boolean(node['ready'], `${path}.ready`);
      c.list(node['taints'], `${path}.taints`).forEach((t, j) => {
        const taint = c.record(t, `${path}.taints[${j}]`);
        if (!taint) return;
        c.string(taint['key'], `${path}.taints[${j}].key`, true);
        if (!['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(String(taint['effect']))) {
          c.problem(`${path}.taints[${j}].effect`, 'expected NoSchedule, PreferNoSchedule or NoExecute');
        }
      });
    });
    const namespaces = new Set<string>();
    c.list(root['namespaces'], 'namespaces').forEach((n, i) => {
      const path = `namespaces[${i}]`;
      const ns = c.record(n, path);
      if (!ns) return;
      c.keys(ns, path, ['name', 'labels', 'annotations']);
      c.string(ns['name'], `${path}.name`, true);
      if (typeof ns['name'] === 'string') namespaces.add(ns['name']);
      c.stringMap(ns['labels'], `${path}.labels`);
      c.stringMap(ns['annotations'], `${path}.annotations`);
    });
    c.list(root['objects'], 'objects').forEach((o, i) => {
      const path = `objects[${i}]`;
      const obj = c.record(o, path);
      if (!obj) return;
      c.string(obj['apiVersion'], `${path}.apiVersion`, true);
      c.string(obj['kind'], `${path}.kind`, true);
      const meta = c.record(obj['metadata'], `${path}.metadata`);
      if (meta) c.string(meta['name'], `${path}.metadata.name`, true);
    });
    const podNames = new Set<string>();
    c.list(root['pods'], 'pods').forEach((p, i) => {
      const path = `pods[${i}]`;
      const pod = c.record(p, path);
      if (!pod) return;
      c.keys(pod, path, ['name', 'namespace', 'owner', 'node', 'labels', 'annotations', 'spec', 'oomKilled', 'restartCount']);
      c.string(pod['name'], `${path}.name`, true);
      c.string(pod['namespace'], `${path}.namespace`, true);
      const key = `${String(pod['namespace'])}/${String(pod['name'])}`;
      if (podNames.has(key)) c.problem(`${path}.name`, `duplicate pod ${key}`);
      podNames.add(key);
      if (typeof pod['namespace'] === 'string' && namespaces.size > 0 && !namespaces.has(pod['namespace'])) {
        c.problem(`${path}.namespace`, `namespace ${pod['namespace']} is not in namespaces`);
      }
      if (pod['owner'] !== undefined) {
        const owner = String(pod['owner']);
        const [kind, name] = owner.split('/');
        if (!kind || !name || !OWNER_KINDS.includes(kind)) {
          c.problem(`${path}.owner`, `expected Kind/name with Kind one of ${OWNER_KINDS.join(', ')}, got ${JSON.stringify(pod['owner'])}`);
        }
        if (kind === 'Node' && pod['spec'] === undefined) c.problem(`${path}.spec`, 'a mirror pod (owner Node/...) needs a spec');
      } else if (pod['spec'] === undefined) {
        c.problem(`${path}.spec`, 'an unmanaged pod (no owner) needs a spec');
      }
      if (pod['spec'] !== undefined) {
        const spec = c.record(pod['spec'], `${path}.spec`);
        if (spec && (!Array.isArray(spec['containers']) || spec['containers'].length === 0)) {
          c.problem(`${path}.spec.containers`, 'expected at least one container');
        }
      }
      c.string(pod['node'], `${path}.node`, false);
      if (typeof pod['node'] === 'string' && nodeNames.size > 0 && !nodeNames.has(pod['node'])) {
        c.problem(`${path}.node`, `node ${pod['node']} is not in nodes`);
      }
      c.stringMap(pod['labels'], `${path}.labels`);
      c.stringMap(pod['annotations'], `${path}.annotations`);
      c.list(pod['oomKilled'], `${path}.oomKilled`).forEach((name, j) => c.string(name, `${path}.oomKilled[${j}]`, true));
      c.number(pod['restartCount'], `${path}.restartCount`, 1);
    });
  }
  if (c.problems.length > 0) {
    throw new SeedError(`invalid seed ${source}:\n  - ${c.problems.join('\n  - ')}`);
  }
  return (doc ?? {}) as SimSeed;
}

export function parseSeed(text: string, source = '(inline)'): SimSeed {
  let doc: unknown;
  try {
    doc = parseYaml(text, { merge: true });
  } catch (err) {
    throw new SeedError(`invalid seed ${source}: not valid YAML: ${(err as Error).message}`);
  }
  return validateSeed(doc, source);
}

export function loadSeedFile(path: string): SimSeed {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SeedError(`cannot read seed ${path}: ${(err as Error).message}`);
  }
  return parseSeed(text, path);
}

/** Path of the bundled GPU cluster seed (works from src/ under tsx and from a build that copies it). */
export const DEFAULT_SEED_PATH = fileURLToPath(new URL('./seeds/gpu-cluster.yaml', import.meta.url));

/** The bundled small GPU cluster that the captured Alertmanager fixtures refer to. */
export function defaultSeed(): SimSeed {
  return loadSeedFile(DEFAULT_SEED_PATH);
}
