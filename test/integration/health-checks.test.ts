/**
 * The built-in health checks end to end (README "Closing the loop"): manual runs of each playbook through the
 * API against the fault rig's simulated GPU cluster, with real controllers behind them. A run
 * ends `succeeded` only once the cluster shows the remediation worked (`run.health` healthy); when
 * the sim cannot make the pods available (every node they fit on cordoned) the run ends `failed`,
 * unhealthy with what is missing, and the change stays on the cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_TOKEN, SCENARIOS, startRun, startScenarioRig, waitTerminal, type FaultScenario, type ScenarioRig } from '../helpers/fault-rig.js';
import type { KubeObject } from '../../src/sim/kube-types.js';
import type { Run } from '../../src/domain/run.js';

const LAST_ACTION = 'remediator.dev/last-action';

async function run(rig: ScenarioRig, scenario: FaultScenario): Promise<Run> {
  return waitTerminal(rig.main, await startRun(rig.main, scenario), 30_000);
}

/** The run's audit entries of one type, through the API. */
async function auditOf(rig: ScenarioRig, runId: string, type: string): Promise<Record<string, unknown>[]> {
  const res = await fetch(`${rig.main.url}/api/v1/audit?runId=${runId}&type=${type}`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: Record<string, unknown>[] }).items;
}

function podsOf(rig: ScenarioRig, app: string): KubeObject[] {
  return rig.sim.list('Pod', 'ml').filter((p) => p.metadata.labels?.['app'] === app && !p.metadata.deletionTimestamp);
}

function isReady(pod: KubeObject): boolean {
  const conditions = (pod.status?.['conditions'] as { type: string; status: string }[] | undefined) ?? [];
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

function replicasOf(rig: ScenarioRig, name: string): number {
  return Number((rig.sim.get('Deployment', 'ml', name)?.spec as { replicas?: number } | undefined)?.replicas);
}

function unschedulable(rig: ScenarioRig, node: string): boolean {
  return rig.sim.get('Node', undefined, node)?.spec?.['unschedulable'] === true;
}

describe('health checks: a run succeeds once the cluster shows it worked', () => {
  let rig: ScenarioRig;

  beforeAll(async () => {
    rig = await startScenarioRig();
  });

  afterAll(() => rig?.stop());

  it('scale-replicas: succeeded after the rollout reached the new count available', async () => {
    const done = await run(rig, SCENARIOS['scale-replicas']!);
    expect(done.status, done.reason).toBe('succeeded');
    expect(done.changed).toBe(true);
    expect(done.health).toMatchObject({ result: 'healthy', detail: 'deployment/ml/web: 4/4 available' });
    expect(done.reason).toBe('scaled deployment/ml/web from 3 to 4; deployment/ml/web: 4/4 available');
    // What it reported is what the cluster shows.
    expect(podsOf(rig, 'web').filter(isReady)).toHaveLength(4);
    expect(await auditOf(rig, done.id, 'health_check')).toMatchObject([{ type: 'health_check', result: 'healthy', detail: done.health!.detail }]);
  });

  it('restart-oom-pod: succeeded once the owner has a Ready replacement', async () => {
    rig.sim.markOOMKilled('ml', 'oomy-6f9c7d5b8-q2w4e', 'main');
    const done = await run(rig, SCENARIOS['restart-oom-pod']!);
    expect(done.status, done.reason).toBe('succeeded');
    const [replacement] = podsOf(rig, 'oomy');
    expect(replacement?.metadata.name).not.toBe('oomy-6f9c7d5b8-q2w4e');
    expect(isReady(replacement!)).toBe(true);
    expect(done.health).toMatchObject({ result: 'healthy', detail: `deployment/ml/oomy: replacement ml/${replacement!.metadata.name} Ready` });
  });

  it('drain-gpu-node: succeeded once the evicted pods’ Deployment is back at its desired availability on another node', async () => {
    const done = await run(rig, SCENARIOS['drain-gpu-node']!);
    expect(done.status, done.reason).toBe('succeeded');
    expect(done.health).toMatchObject({ result: 'healthy', detail: '1 workload back at desired availability: deployment/ml/llm 2/2' });
    const llm = podsOf(rig, 'llm');
    expect(llm.filter(isReady)).toHaveLength(2);
    expect(llm.map((p) => p.spec?.['nodeName'])).toEqual(['gpu-b', 'gpu-b']);
  });
});

describe('health checks: a run whose pods cannot become available fails, and its change stays', () => {
  let rig: ScenarioRig;

  beforeAll(async () => {
    // Room in the node budget for the cordons below (gpu-c is cordoned by the seed).
    rig = await startScenarioRig({ options: { guards: { maxUnschedulableNodes: 5 } } });
    // The only nodes web (cpu-1) and the llm replacements (gpu-b) could run on are cordoned.
    rig.sim.patchObject('Node', undefined, 'cpu-1', { spec: { unschedulable: true } });
    rig.sim.patchObject('Node', undefined, 'gpu-b', { spec: { unschedulable: true } });
  });

  afterAll(() => rig?.stop());

  it('scale-replicas: failed after waitForReadySeconds, unhealthy with the count available, the new replicas kept', async () => {
    const scenario: FaultScenario = { playbook: 'scale-replicas', params: { namespace: 'ml', name: 'web', replicas: 5, maxReplicas: 6, waitForReadySeconds: 2 } };
    const done = await run(rig, scenario);
    expect(done.status, done.reason).toBe('failed');
    expect(done.health).toMatchObject({ result: 'unhealthy', detail: 'deployment/ml/web: 3 of 5 available after 2s' });
    expect(done.reason).toContain('scaled deployment/ml/web from 3 to 5, but the rollout did not complete: deployment/ml/web: 3 of 5 available after 2s');
    // Not rolled back: the spec keeps 5, the two new pods wait for a node.
    expect(replicasOf(rig, 'web')).toBe(5);
    expect(podsOf(rig, 'web').filter((p) => !p.spec?.['nodeName'])).toHaveLength(2);
    expect(JSON.parse(rig.sim.get('Deployment', 'ml', 'web')!.metadata.annotations![LAST_ACTION]!)).toMatchObject({ runId: done.id });
    expect(await auditOf(rig, done.id, 'health_check')).toMatchObject([{ result: 'unhealthy', detail: done.health!.detail }]);
  });

  it('drain-gpu-node: failed after timeoutSeconds, unhealthy naming the workload short of pods, the node left cordoned and drained', async () => {
    const scenario: FaultScenario = { playbook: 'drain-gpu-node', params: { node: 'gpu-a', timeoutSeconds: 3 } };
    const done = await run(rig, scenario);
    expect(done.status, done.reason).toBe('failed');
    expect(done.health).toMatchObject({
      result: 'unhealthy',
      detail: '1 workload not back at desired availability within 3s: deployment/ml/llm 0 of 2 available',
    });
    expect(done.reason).toMatch(/^cordoned and drained node gpu-a: evicted 2 pods \(.*\), but 1 workload not back at desired availability within 3s/);
    expect(unschedulable(rig, 'gpu-a')).toBe(true);
    expect(rig.sim.list('Pod').filter((p) => p.spec?.['nodeName'] === 'gpu-a' && p.metadata.labels?.['app'] === 'llm')).toEqual([]);
    expect(podsOf(rig, 'llm').every((p) => !p.spec?.['nodeName'])).toBe(true);
    // The stamp still tells uncordon-node this cordon is remediator's.
    expect(JSON.parse(rig.sim.get('Node', undefined, 'gpu-a')!.metadata.annotations![LAST_ACTION]!)).toMatchObject({ runId: done.id, cordoned: true });
  });
});
