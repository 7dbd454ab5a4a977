import { PermanentError } from './errors.js';

/**
 * Targets are written `node/NAME`, `deployment/NS/NAME`, `statefulset/NS/NAME`, `pod/NS/NAME`
 * everywhere (locks, cooldowns, records, audit, filters).
 */
export type TargetKind = 'node' | 'deployment' | 'statefulset' | 'pod';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isDnsLabel(value: string): boolean {
  return DNS_LABEL.test(value);
}

export function isDnsSubdomain(value: string): boolean {
  return DNS_SUBDOMAIN.test(value);
}

/** Every name that reaches a Kubernetes path goes through here, so a label value cannot steer a request. */
export function assertObjectName(value: string, what: string): string {
  if (!isDnsSubdomain(value)) throw new PermanentError(`${what} "${value}" is not a valid Kubernetes name`);
  return value;
}

export function assertNamespace(value: string): string {
  if (!isDnsLabel(value)) throw new PermanentError(`namespace "${value}" is not a valid Kubernetes namespace`);
  return value;
}

export function nodeTarget(name: string): string {
  return `node/${name}`;
}

export function workloadTarget(kind: 'Deployment' | 'StatefulSet', namespace: string, name: string): string {
  return `${kind.toLowerCase()}/${namespace}/${name}`;
}

export function podTarget(namespace: string, name: string): string {
  return `pod/${namespace}/${name}`;
}

export interface ParsedTarget {
  kind: TargetKind;
  namespace?: string;
  name: string;
}

export function parseTarget(target: string): ParsedTarget | undefined {
  const parts = target.split('/');
  const kind = parts[0];
  if (kind === 'node' && parts.length === 2 && parts[1]) return { kind, name: parts[1] };
  if ((kind === 'deployment' || kind === 'statefulset' || kind === 'pod') && parts.length === 3 && parts[1] && parts[2]) {
    return { kind, namespace: parts[1], name: parts[2] };
  }
  return undefined;
}
