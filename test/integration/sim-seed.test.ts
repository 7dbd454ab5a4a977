import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pod } from '../../src/sim/kube-types.js';
import { startSimCluster, type SimCluster } from '../../src/sim/sim-cluster.js';
import { defaultSeed, parseSeed, SeedError } from '../../src/sim/sim-seed.js';

const fixtureDir = new URL('../fixtures/alertmanager/', import.meta.url);

interface AlertLabels {
  namespace?: string;
  pod?: string;
  container?: string;
  deployment?: string;
  node?: string;
  reason?: string;
}

function fixtureAlerts(): AlertLabels[] {
  return readdirSync(fixtureDir)
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => (JSON.parse(readFileSync(new URL(f, fixtureDir), 'utf8')) as { body: { alerts: Array<{ labels: AlertLabels }> } }).body.alerts)
    .map((a) => a.labels);
}

describe('sim: the bundled GPU cluster seed', () => {
  let sim: SimCluster;
  beforeAll(async () => {
    sim = await startSimCluster({ seed: defaultSeed() });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('contains every pod, deployment and node the captured alerts name', () => {
    const alerts = fixtureAlerts();
    expect(alerts.length).toBeGreaterThan(0);
    for (const labels of alerts) {
      if (labels.pod) {
        const pod = sim.get('pods', labels.namespace, labels.pod) as Pod | undefined;
        expect(pod, `${labels.namespace}/${labels.pod}`).toBeDefined();
        const status = pod?.status?.containerStatuses?.find((c) => c.name === labels.container);
        expect(status?.lastState?.terminated, `${labels.pod} ${labels.container}`).toMatchObject({ reason: 'OOMKilled', exitCode: 137 });
        expect(status?.state?.running).toBeDefined();
        expect(status?.restartCount).toBeGreaterThanOrEqual(1);
        expect(pod?.metadata.ownerReferences?.[0]?.controller).toBe(true);
      }
      if (labels.deployment) expect(sim.get('deployments', labels.namespace, labels.deployment)).toBeDefined();
      if (labels.node) {
        const node = sim.get('nodes', undefined, labels.node);
        expect(node?.status?.['allocatable']).toMatchObject({ 'nvidia.com/gpu': '8' });
        expect(node?.metadata.labels?.['nvidia.com/gpu.present']).toBe('true');
      }
    }
  });

  it('has the advertised topology, all pods Running and Ready', () => {
    expect(sim.list('nodes').map((n) => n.metadata.name)).toEqual(['cpu-node-1', 'gpu-node-1', 'gpu-node-2', 'gpu-node-3', 'gpu-node-4']);
    expect(sim.list('namespaces').map((n) => n.metadata.name)).toEqual(
      expect.arrayContaining(['default', 'kube-system', 'ml-serving', 'ml-training', 'ml-batch', 'monitoring']),
    );
    const pods = sim.list('pods') as Pod[];
    expect(pods.every((p) => p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))).toBe(true);
    const inference = pods.filter((p) => p.metadata.labels?.['app.kubernetes.io/name'] === 'llm-inference');
    expect(inference).toHaveLength(3);
    expect(inference.every((p) => p.spec.containers[0]?.resources?.limits?.['nvidia.com/gpu'] === 2)).toBe(true);
    expect(sim.get('poddisruptionbudgets', 'ml-serving', 'llm-inference-pdb')?.spec).toMatchObject({ minAvailable: 2 });
    expect(['trainer-0', 'trainer-1', 'trainer-2'].every((n) => sim.get('pods', 'ml-training', n))).toBe(true);
    expect(pods.filter((p) => p.metadata.namespace === 'monitoring')).toHaveLength(5);
    const mirror = sim.get('pods', 'kube-system', 'gpu-health-agent-gpu-node-3');
    expect(mirror?.metadata.annotations?.['kubernetes.io/config.mirror']).toBeTruthy();
    expect(mirror?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Node', name: 'gpu-node-3' });
    const unmanaged = sim.get('pods', 'ml-batch', 'gpu-debug-shell') as Pod | undefined;
    expect(unmanaged?.metadata.ownerReferences).toBeUndefined();
    expect(unmanaged?.spec.volumes?.some((v) => v.emptyDir !== undefined)).toBe(true);
    // gpu-node-3 (the overheating node) holds no unmanaged pod, so a drain without --force can succeed.
    expect(pods.filter((p) => p.spec.nodeName === 'gpu-node-3' && !p.metadata.ownerReferences)).toEqual([]);
  });

  it('rejects a bad seed with every problem and its path', () => {
    const bad = `
nodes:
  - name: n1
    gpus: -1
    colour: blue
pods:
  - name: p
    namespace: default
    owner: Job/x
  - name: q
    namespace: default
`;
    let error: unknown;
    try {
      parseSeed(bad, 'bad.yaml');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SeedError);
    const message = (error as Error).message;
    expect(message).toContain('invalid seed bad.yaml');
    expect(message).toContain('nodes[0].gpus: expected an integer >= 0');
    expect(message).toContain('nodes[0].colour: unknown field');
    expect(message).toContain('pods[0].owner: expected Kind/name');
    expect(message).toContain('pods[1].spec: an unmanaged pod (no owner) needs a spec');
  });

  it('reports an object the API would refuse, naming it', async () => {
    const seed = parseSeed(`
namespaces: [{ name: apps }]
objects:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: { name: web, namespace: apps }
    spec:
      replicas: -3
      selector: { matchLabels: { app: web } }
      template: { metadata: { labels: { app: web } }, spec: { containers: [{ name: web, image: nginx }] } }
`);
    await expect(startSimCluster({ seed })).rejects.toThrow(
      'seed: objects[0] (Deployment apps/web): Deployment.apps "web" is invalid: spec.replicas: Invalid value: -3: must be greater than or equal to 0',
    );
  });
});
