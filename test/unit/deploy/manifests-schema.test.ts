/**
 * Offline schema validation of the Kubernetes manifests: every object `kubectl kustomize
 * deploy/kubernetes` renders (and every file under deploy/kubernetes as written) against the
 * Kubernetes OpenAPI schemas (kubernetes-models) and the prometheus-operator CRD schemas
 * (@kubernetes-models/prometheus-operator: ServiceMonitor, PodMonitor, PrometheusRule, ...).
 * No cluster is needed.
 *
 * The models' `.validate()` catches wrong types, missing required fields, enums and patterns
 * (e.g. a PrometheusRule `for:` that is not a duration), but the Kubernetes schemas allow
 * unknown fields, which the API server then drops or refuses. So the validator is run on a
 * Proxy that records every property it reads: a field it never looked at is one the schema
 * does not know (a typo such as `imagePullPolcy`). Maps (labels, ConfigMap data) are read key
 * by key by the validator, so their keys count as known.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as kubernetesModels from 'kubernetes-models';
import * as prometheusOperatorModels from '@kubernetes-models/prometheus-operator';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT, at, docs, has, read, run, skipNote, yamlDocs, type Doc } from '../../helpers/deploy-files.js';

interface ModelClass {
  apiVersion: string;
  kind: string;
  new (data: Doc): { validate(): void };
}

/** `apiVersion/kind` -> model class, and which package it came from. */
const MODELS = new Map<string, { model: ModelClass; from: string }>();
function register(namespace: unknown, from: string, depth = 0): void {
  for (const value of Object.values(namespace as Record<string, unknown>)) {
    const model = value as ModelClass;
    if (typeof value === 'function' && typeof model.apiVersion === 'string' && typeof model.kind === 'string') {
      MODELS.set(`${model.apiVersion}/${model.kind}`, { model, from });
    } else if (value !== null && typeof value === 'object' && depth < 3) {
      register(value, from, depth + 1);
    }
  }
}
register(kubernetesModels, 'kubernetes-models');
register(prometheusOperatorModels, '@kubernetes-models/prometheus-operator');

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';

/** The schema violations of one object, `[]` when it is valid. */
function schemaErrors(doc: Doc): string[] {
  const entry = MODELS.get(`${doc.apiVersion}/${doc.kind}`);
  if (!entry) return [`no schema for apiVersion ${doc.apiVersion}, kind ${doc.kind}`];
  const model = new entry.model(doc);
  const errors: string[] = [];
  const read = new Set<string>();
  const recording = (value: unknown, path: string): unknown =>
    isObject(value)
      ? new Proxy(value, {
          get(target, key, receiver) {
            const child = Reflect.get(target, key, receiver) as unknown;
            if (typeof key !== 'string' || !Object.hasOwn(target, key)) return child;
            read.add(`${path}/${key}`);
            return recording(child, `${path}/${key}`);
          },
        })
      : value;
  try {
    entry.model.prototype.validate.call(recording(model, ''));
  } catch (err) {
    errors.push((err as Error).message);
  }
  const unknownFields = (value: unknown, path: string): void => {
    if (!isObject(value)) return;
    for (const [key, child] of Object.entries(value)) {
      const childPath = `${path}/${key}`;
      if (read.has(childPath)) unknownFields(child, childPath);
      else errors.push(`data${childPath} is not a field of the schema`);
    }
  };
  unknownFields(model, '');
  return errors;
}

const KUBECTL = has('kubectl');
const name = (d: Doc) => `${d.kind}/${d.metadata?.name}`;

function failures(objects: Doc[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const d of objects) {
    const errors = schemaErrors(d);
    if (errors.length > 0) out[name(d)] = errors;
  }
  return out;
}

function rendered(): Doc[] {
  const r = run('kubectl', ['kustomize', 'deploy/kubernetes']);
  expect(r.status, r.output).toBe(0);
  return yamlDocs(r.stdout);
}

// One of each kind from the source files: the base of the deliberately broken copies.
const SOURCE_FILES = readdirSync(at('deploy/kubernetes')).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
const SOURCE_OBJECTS = SOURCE_FILES.flatMap((f) => docs('deploy/kubernetes', f));
// deploy/kubernetes has no PodMonitor: a minimal one, as the exporters' monitors are written.
const POD_MONITOR: Doc = {
  apiVersion: 'monitoring.coreos.com/v1',
  kind: 'PodMonitor',
  metadata: { name: 'dcgm-exporter', namespace: 'gpu-operator' },
  spec: {
    selector: { matchLabels: { app: 'nvidia-dcgm-exporter' } },
    namespaceSelector: { any: true },
    podMetricsEndpoints: [{ port: 'gpu-metrics', relabelings: [{ sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node' }] }],
  },
};
const first = (kind: string): Doc => structuredClone(kind === 'PodMonitor' ? POD_MONITOR : SOURCE_OBJECTS.find((d) => d.kind === kind)!);

/** Kubernetes objects shipped elsewhere under deploy/ (e.g. monitors for the exporters), by file. */
function otherManifests(): Map<string, Doc[]> {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((entry) => {
      const path = join(dir, entry);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
  const out = new Map<string, Doc[]>();
  for (const file of walk(at('deploy')).filter((f) => /\.ya?ml$/.test(f))) {
    const path = relative(ROOT, file);
    if (path.startsWith('deploy/kubernetes/')) continue;
    const objects = docs(path).filter((d) => typeof d.apiVersion === 'string' && typeof d.kind === 'string' && isObject(d.metadata));
    if (objects.length > 0) out.set(path, objects);
  }
  return out;
}

describe('Kubernetes manifests against their schemas (offline)', () => {
  it.skipIf(!KUBECTL)(`every object kubectl kustomize renders is valid${skipNote('kubectl', 'kubernetes-client', KUBECTL)}`, () => {
    const objects = rendered();
    expect(objects.length).toBeGreaterThanOrEqual(17);
    expect(failures(objects)).toEqual({});
    // The prometheus-operator objects (ServiceMonitor, PrometheusRule, a PodMonitor if one is
    // added) are checked against the CRD schemas, everything else against the Kubernetes API.
    for (const d of objects) {
      const { from } = MODELS.get(`${d.apiVersion}/${d.kind}`)!;
      expect(from, name(d)).toBe(String(d.apiVersion).startsWith('monitoring.coreos.com/') ? '@kubernetes-models/prometheus-operator' : 'kubernetes-models');
    }
    const kinds = new Set(objects.map((d) => String(d.kind)));
    for (const kind of ['ServiceMonitor', 'PrometheusRule', 'Deployment', 'StatefulSet', 'NetworkPolicy', 'ClusterRole']) expect(kinds).toContain(kind);
  });

  it('every object of the files under deploy/kubernetes is valid, secret.example.yaml included', () => {
    expect(SOURCE_FILES).toContain('secret.example.yaml');
    expect(SOURCE_OBJECTS.length).toBeGreaterThanOrEqual(18);
    expect(failures(SOURCE_OBJECTS)).toEqual({});
  });

  it('Kubernetes objects shipped elsewhere under deploy/ (monitors for the exporters, if any) are valid', () => {
    const found: Record<string, Record<string, string[]>> = {};
    for (const [file, objects] of otherManifests()) {
      const bad = failures(objects);
      if (Object.keys(bad).length > 0) found[file] = bad;
    }
    expect(found).toEqual({});
  });

  it.skipIf(!KUBECTL)(`the rendered PrometheusRule carries exactly the groups of deploy/prometheus/rules.yml${skipNote('kubectl', 'kubernetes-client', KUBECTL)}`, () => {
    const rules = rendered().filter((d) => d.kind === 'PrometheusRule');
    expect(rules.map(name)).toEqual(['PrometheusRule/remediator']);
    expect(rules[0]!.spec.groups).toEqual((parse(read('deploy/prometheus/rules.yml')) as Doc).groups);
  });
});

describe('the schema check can fail (deliberately broken copies)', () => {
  const broken: [string, () => Doc, RegExp][] = [
    ['Deployment: replicas as a string', () => { const d = first('Deployment'); d.spec.replicas = 'two'; return d; }, /\/spec\/replicas must be integer/],
    ['Deployment: a misspelt container field', () => { const d = first('Deployment'); d.spec.template.spec.containers[0].imagePullPolcy = 'Always'; return d; }, /\/spec\/template\/spec\/containers\/0\/imagePullPolcy is not a field/],
    ['Deployment: a field at the wrong level', () => { const d = first('Deployment'); d.spec.serviceAccountName = 'x'; return d; }, /data\/spec\/serviceAccountName is not a field/],
    ['Deployment: containers missing', () => { const d = first('Deployment'); delete d.spec.template.spec.containers; return d; }, /\/spec\/template\/spec must have required property containers/],
    ['Service: port as a string', () => { const d = first('Service'); d.spec.ports[0].port = '8080'; return d; }, /\/spec\/ports\/0\/port must be integer/],
    ['ConfigMap: a number as data value', () => { const d = first('ConfigMap'); d.data.extra = 3; return d; }, /\/data\/extra must be string/],
    ['metadata: labels misspelt', () => { const d = first('ServiceAccount'); d.metadata.label = { a: 'b' }; return d; }, /data\/metadata\/label is not a field/],
    ['ClusterRole: verbs as a string', () => { const d = first('ClusterRole'); d.rules[0].verbs = 'get'; return d; }, /\/rules\/0\/verbs must be array/],
    ['ServiceMonitor: a misspelt endpoint field', () => { const d = first('ServiceMonitor'); d.spec.endpoints[0].intervall = '30s'; return d; }, /\/spec\/endpoints\/0\/intervall is not a field/],
    ['ServiceMonitor: the port as a number', () => { const d = first('ServiceMonitor'); d.spec.endpoints[0].port = 8080; return d; }, /\/spec\/endpoints\/0\/port must be string/],
    ['PrometheusRule: `for` not a duration', () => { const d = first('PrometheusRule'); d.spec.groups[0].rules[0].for = '2 minutes'; return d; }, /\/spec\/groups\/0\/rules\/0\/for must match pattern/],
    ['PrometheusRule: a misspelt rule field', () => { const d = first('PrometheusRule'); d.spec.groups[0].rules[0].annotation = {}; return d; }, /\/spec\/groups\/0\/rules\/0\/annotation is not a field/],
    ['PrometheusRule: a rule without expr', () => { const d = first('PrometheusRule'); delete d.spec.groups[0].rules[0].expr; return d; }, /\/spec\/groups\/0\/rules\/0 must have required property expr/],
    ['PodMonitor: a misspelt relabelling field', () => { const d = first('PodMonitor'); d.spec.podMetricsEndpoints[0].relabelings[0].sourceLabel = ['x']; return d; }, /\/relabelings\/0\/sourceLabel is not a field/],
    ['PodMonitor: endpoints under the ServiceMonitor name', () => { const d = first('PodMonitor'); d.spec.endpoints = d.spec.podMetricsEndpoints; delete d.spec.podMetricsEndpoints; return d; }, /data\/spec\/endpoints is not a field/],
    ['an unknown kind', () => ({ ...first('ServiceMonitor'), kind: 'ServiceMonitorr' }), /no schema for apiVersion monitoring\.coreos\.com\/v1, kind ServiceMonitorr/],
    ['an apiVersion that does not serve the kind', () => ({ ...first('Deployment'), apiVersion: 'v1' }), /no schema for apiVersion v1, kind Deployment/],
  ];

  it.each(broken)('%s is caught', (_, make, expected) => {
    const errors = schemaErrors(make());
    expect(errors.join('\n')).toMatch(expected);
  });

  it('the unbroken originals of those copies pass', () => {
    for (const kind of ['Deployment', 'Service', 'ConfigMap', 'ServiceAccount', 'ClusterRole', 'ServiceMonitor', 'PodMonitor', 'PrometheusRule']) {
      expect(schemaErrors(first(kind)), kind).toEqual([]);
    }
  });
});
