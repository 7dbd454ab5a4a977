/**
 * Conversion between served versions of one stored resource. Only HorizontalPodAutoscaler has
 * two (stored as autoscaling/v2, also served as autoscaling/v1); everything else passes through.
 */
import type { KubeObject } from './kube-types.js';
import { deepCopy, isRecord } from './kube-types.js';
import type { ResourceDef } from './resources.js';

function cpuTarget(metrics: unknown): number | undefined {
  if (!Array.isArray(metrics)) return undefined;
  for (const m of metrics) {
    if (!isRecord(m) || m['type'] !== 'Resource' || !isRecord(m['resource'])) continue;
    const resource = m['resource'];
    const target = isRecord(resource['target']) ? resource['target'] : {};
    if (resource['name'] === 'cpu' && typeof target['averageUtilization'] === 'number') return target['averageUtilization'];
  }
  return undefined;
}

/** The stored object as the client asked for it (`version` of the request path). */
export function toServedVersion(def: ResourceDef, obj: KubeObject, version: string): KubeObject {
  if (def.kind !== 'HorizontalPodAutoscaler' || version !== 'v1') return obj;
  const out = deepCopy(obj);
  out.apiVersion = 'autoscaling/v1';
  const spec = out.spec ?? {};
  const cpu = cpuTarget(spec['metrics']);
  out.spec = {
    scaleTargetRef: spec['scaleTargetRef'],
    ...(spec['minReplicas'] !== undefined ? { minReplicas: spec['minReplicas'] } : {}),
    maxReplicas: spec['maxReplicas'],
    ...(cpu !== undefined ? { targetCPUUtilizationPercentage: cpu } : {}),
  };
  const status = out.status ?? {};
  out.status = {
    ...(status['observedGeneration'] !== undefined ? { observedGeneration: status['observedGeneration'] } : {}),
    ...(status['lastScaleTime'] !== undefined ? { lastScaleTime: status['lastScaleTime'] } : {}),
    currentReplicas: status['currentReplicas'] ?? 0,
    desiredReplicas: status['desiredReplicas'] ?? 0,
  };
  return out;
}

/** A request body in the request's version, converted to the stored version. */
export function fromServedVersion(def: ResourceDef, obj: KubeObject, version: string): KubeObject {
  if (def.kind !== 'HorizontalPodAutoscaler' || version !== 'v1') return obj;
  const out = deepCopy(obj);
  out.apiVersion = 'autoscaling/v2';
  const spec = out.spec ?? {};
  const cpu = spec['targetCPUUtilizationPercentage'];
  const next: Record<string, unknown> = { ...spec };
  delete next['targetCPUUtilizationPercentage'];
  if (typeof cpu === 'number') {
    next['metrics'] = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: cpu } } }];
  }
  out.spec = next;
  return out;
}
