import { describe, expect, it } from 'vitest';
import { invalidParamsReason } from '../../../src/engine/invalid-params-reason.js';
import { drainGpuNode } from '../../../playbooks/drain-gpu-node.js';
import { scaleReplicas } from '../../../playbooks/scale-replicas.js';

function reason(playbook: typeof drainGpuNode | typeof scaleReplicas, ruleParams: Record<string, unknown>, labels: Record<string, string>): string {
  const parsed = playbook.paramsSchema.safeParse({ ...playbook.paramsFromLabels(labels), ...ruleParams });
  if (parsed.success) throw new Error('expected the params to be invalid');
  return invalidParamsReason({ name: 'r', params: ruleParams }, playbook, labels, parsed.error.issues);
}

describe('invalid_params reasons', () => {
  it('names the labels a node may come from when none is there', () => {
    expect(reason(drainGpuNode, {}, { alertname: 'GPUNodeOverheating', gpu: '0' })).toBe(
      'rule r needs label node (or kubernetes_node, Hostname, hostname, instance); the alert has alertname, gpu',
    );
  });

  it('quotes a label value that is not a valid name', () => {
    expect(reason(drainGpuNode, {}, { Hostname: 'GPU Node 3!' })).toMatch(/^rule r cannot use label Hostname="GPU Node 3!" as node: .+; the alert has Hostname$/);
  });

  it('keeps the schema message for a param no label feeds', () => {
    expect(reason(scaleReplicas, { maxReplicas: 2, minReplicas: 5 }, { namespace: 'ml', deployment: 'web' })).toMatch(/^rule r param .+; the alert has deployment, namespace$/);
  });
});
