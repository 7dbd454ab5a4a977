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
