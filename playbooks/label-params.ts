/**
 * Shared checks for names that come from alert labels or params. A label value only becomes a
 * param when it is a valid Kubernetes name, so a crafted label can never steer a request.
 */
import { z } from 'zod';
import { assertNamespace, assertObjectName } from '../src/engine/playbook.js';

export function isNamespaceName(value: unknown): value is string {
  return typeof value === 'string' && passes(() => assertNamespace(value));
}

export function isObjectName(value: unknown): value is string {
  return typeof value === 'string' && passes(() => assertObjectName(value, 'name'));
}

/** DNS label, as for namespaces and container names. */
export function isDnsLabelName(value: unknown): value is string {
  return isNamespaceName(value);
}

/** The first of `keys` whose label value passes `valid`. */
export function firstValidLabel(
  labels: Record<string, string>,
  keys: readonly string[],
  valid: (value: string) => boolean,
): string | undefined {
  for (const key of keys) {
    const value = labels[key];
    if (value !== undefined && valid(value)) return value;
  }
  return undefined;
}

/** Schema fields reject bad names up front, so a manual run gets a 400 with the param's path. */
export function namespaceField() {
  return z.string().refine(isNamespaceName, { message: 'must be a valid Kubernetes namespace (DNS label)' });
}

export function objectNameField(description: string) {
  return z
    .string()
    .refine(isObjectName, { message: 'must be a valid Kubernetes object name (DNS subdomain)' })
    .describe(description);
}

function passes(check: () => unknown): boolean {
  try {
    check();
    return true;
  } catch {
    return false;
  }
}

/** The labels `podParamsFromLabels` reads, per param. */
export const POD_PARAM_LABELS = { namespace: ['namespace'], pod: ['pod'], container: ['container'] } as const;

/** The labels `nodeParamFromLabels` reads: `instance` last, without its port. */
export const NODE_PARAM_LABELS = { node: ['node', 'kubernetes_node', 'Hostname', 'hostname', 'instance'] } as const;

/** `{namespace, pod, container}` from an OOM alert's labels: the ones that are valid names. */
export function podParamsFromLabels(labels: Record<string, string>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  if (isNamespaceName(labels.namespace)) params.namespace = labels.namespace;
  if (isObjectName(labels.pod)) params.pod = labels.pod;
  if (isDnsLabelName(labels.container)) params.container = labels.container;
  return params;
}

/** Alert labels that name a node, in order of preference; `instance` (without its port) comes last. */
export const NODE_LABELS = ['node', 'kubernetes_node', 'Hostname', 'hostname'] as const;

/** `{node}` from the first of NODE_LABELS, else `instance` without its port; `{}` when none is a valid name. */
export function nodeParamFromLabels(labels: Record<string, string>): { node?: string } {
  const fromInstance = labels.instance === undefined ? undefined : stripPort(labels.instance);
  const node = firstValidLabel(labels, NODE_LABELS, isObjectName) ?? (isObjectName(fromInstance) ? fromInstance : undefined);
  return node === undefined ? {} : { node };
}

/** `host:9100` → `host`; an IPv6 `[::1]:9100` stays invalid and is ignored. */
function stripPort(instance: string): string {
  const match = /^(.*):\d+$/.exec(instance);
  return match ? match[1]! : instance;
}

/** A label or taint key: optional DNS-subdomain prefix and `/`, then a name of at most 63 characters. */
export const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
