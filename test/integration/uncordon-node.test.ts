/**
 * uncordon-node end to end, as the aftermath of a drain: alerts are POSTed to the running service
 * against the simulated cluster. A recovery alert (GPUNodeRecovered) uncordons a node the service
 * drained and so frees the node budget for the next drain; a node a human cordoned is left alone
 * unless the rule says `force: true`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';
import { notification } from '../helpers/alerts.js';
import { metricValue } from '../helpers/metrics-text.js';
import type { KubeObject } from '../../src/sim/kube-types.js';

const LAST_ACTION = 'remediator.dev/last-action';

const RULES = `
rules:
  - name: drain-hot
    matchers: ['alertname="GPUNodeOverheating"']
    playbook: drain-gpu-node
    # gpu-node-4 runs an unmanaged emptyDir pod (gpu-debug-shell): force and deleteEmptyDirData.
    params: { timeoutSeconds: 30, deleteEmptyDirData: true, force: true }
  - name: uncordon-recovered-force
    matchers: ['alertname="GPUNodeRecovered"', 'override="true"']
    playbook: uncordon-node
    params: { force: true }
  - name: uncordon-recovered
    matchers: ['alertname="GPUNodeRecovered"']
    playbook: uncordon-node
`;

function alert(alertname: string, node: string, extra: { startsAt?: string; labels?: Record<string, string> } = {}) {
  return notification([{ labels: { alertname, node, severity: 'critical', ...extra.labels }, ...(extra.startsAt ? { startsAt: extra.startsAt } : {}) }]);
}

/** Posts one alert, expects it enqueued, returns its run id. */
async function post(h: Harness, body: Record<string, unknown>): Promise<string> {
  const res = await h.post(body);
  expect(res.status).toBe(200);
  expect(res.body.decisions).toMatchObject([{ decision: 'enqueued' }]);
  return res.body.decisions[0].runId as string;
}

function node(h: Harness, name: string): KubeObject {
  return h.sim.get('node', undefined, name)!;
}

function unschedulable(h: Harness, name: string): boolean {
  return node(h, name).spec?.['unschedulable'] === true;
}

function lastAction(h: Harness, name: string): Record<string, unknown> | undefined {
  const raw = node(h, name).metadata.annotations?.[LAST_ACTION];
  return raw === undefined ? undefined : (JSON.parse(raw) as Record<string, unknown>);
}

function nodeEvents(h: Harness, name: string, reason: string): KubeObject[] {
  return h.sim.list('event').filter((e) => {
    const involved = e['involvedObject'] as { kind?: string; name?: string } | undefined;
    return involved?.kind === 'Node' && involved.name === name && e['reason'] === reason;
  });
}

describe('uncordon-node: the recovery alert undoes a drain and frees the node budget', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ rules: RULES, extra: 'guards: { maxUnschedulableNodes: 1 }' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('drain gpu-node-2; gpu-node-4 blocked by node_budget; GPUNodeRecovered uncordons gpu-node-2; a new gpu-node-4 episode drains it', async () => {
    const drained = await h.waitRun(await post(h, alert('GPUNodeOverheating', 'gpu-node-2')), undefined, 30_000);
    expect(drained).toMatchObject({ status: 'succeeded', changed: true, target: 'node/gpu-node-2' });
    expect(unschedulable(h, 'gpu-node-2')).toBe(true);
    expect(lastAction(h, 'gpu-node-2')).toMatchObject({ playbook: 'drain-gpu-node', runId: drained.id, rule: 'drain-hot' });

    const blocked = await h.waitRun(await post(h, alert('GPUNodeOverheating', 'gpu-node-4')));
    expect(blocked).toMatchObject({ status: 'blocked', guard: { guard: 'node_budget' } });
    expect(unschedulable(h, 'gpu-node-4')).toBe(false);

    const uncordoned = await h.waitRun(await post(h, alert('GPUNodeRecovered', 'gpu-node-2', { labels: { severity: 'info' } })));
    expect(uncordoned).toMatchObject({ status: 'succeeded', changed: true, dryRun: false, playbook: 'uncordon-node', target: 'node/gpu-node-2' });
    expect(uncordoned.reason).toMatch(new RegExp(`^uncordoned node gpu-node-2 \\(cordoned by drain-gpu-node \\(run ${drained.id}, rule drain-hot`));
    expect(uncordoned.steps.filter((s) => s.action === 'uncordon')).toMatchObject([
      { result: 'ok', request: { method: 'PATCH', path: '/api/v1/nodes/gpu-node-2', body: { spec: { unschedulable: false } } } },
    ]);
    // On the cluster: schedulable again, an Event, and the annotation now names the uncordon.
    expect(node(h, 'gpu-node-2').spec?.['unschedulable']).toBe(false);
    const events = nodeEvents(h, 'gpu-node-2', 'RemediationUncordon');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reportingComponent: 'remediator', type: 'Normal' });
    expect(String(events[0]!['message'])).toMatch(/^uncordoned node gpu-node-2 .*\(requested by rule uncordon-recovered\)$/);
    expect(lastAction(h, 'gpu-node-2')).toMatchObject({ playbook: 'uncordon-node', runId: uncordoned.id, rule: 'uncordon-recovered', reason: uncordoned.reason });
    const text = (await h.get('/metrics')).text;
    expect(metricValue(text, 'remediator_actions_total', { playbook: 'uncordon-node', action: 'uncordon', result: 'ok' })).toBe(1);

    // The budget is free again: a new episode of the gpu-node-4 alert drains it.
    const again = await h.waitRun(await post(h, alert('GPUNodeOverheating', 'gpu-node-4', { startsAt: '2026-11-29T01:00:00.000Z' })), undefined, 30_000);
    expect(again).toMatchObject({ status: 'succeeded', changed: true, target: 'node/gpu-node-4' });
    expect(unschedulable(h, 'gpu-node-4')).toBe(true);
    expect(unschedulable(h, 'gpu-node-2')).toBe(false);
  }, 60_000);
});

describe('uncordon-node: a node a human cordoned', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ rules: RULES });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('is left cordoned (skipped, with the reason), and uncordoned only by a rule with force: true', async () => {
    h.sim.patchObject('node', undefined, 'gpu-node-1', { spec: { unschedulable: true } });
    expect(lastAction(h, 'gpu-node-1')).toBeUndefined();

    const skipped = await h.waitRun(await post(h, alert('GPUNodeRecovered', 'gpu-node-1')));
    expect(skipped).toMatchObject({ status: 'skipped', playbook: 'uncordon-node', target: 'node/gpu-node-1' });
    expect(skipped.reason).toBe(
      'node gpu-node-1 is cordoned, but not by remediator (it has no remediator.dev/last-action annotation); left as it is (set force: true to undo it anyway)',
    );
    expect(skipped.steps).toEqual([]);
    expect(unschedulable(h, 'gpu-node-1')).toBe(true);
    expect(nodeEvents(h, 'gpu-node-1', 'RemediationUncordon')).toEqual([]);
    expect(h.sim.mutations().filter((r) => r.path === '/api/v1/nodes/gpu-node-1' && r.method !== 'GET')).toEqual([]);

    const forced = await h.waitRun(await post(h, alert('GPUNodeRecovered', 'gpu-node-1', { labels: { override: 'true' } })));
    expect(forced).toMatchObject({ status: 'succeeded', changed: true, trigger: { rule: 'uncordon-recovered-force' } });
    expect(forced.reason).toMatch(/^uncordoned node gpu-node-1 \(force: not cordoned by remediator, it has no remediator\.dev\/last-action annotation\)$/);
    expect(unschedulable(h, 'gpu-node-1')).toBe(false);
    expect(nodeEvents(h, 'gpu-node-1', 'RemediationUncordon')).toHaveLength(1);
    expect(lastAction(h, 'gpu-node-1')).toMatchObject({ playbook: 'uncordon-node', rule: 'uncordon-recovered-force' });
  }, 40_000);

  it('a schedulable node is a noop', async () => {
    const run = await h.waitRun(await post(h, alert('GPUNodeRecovered', 'gpu-node-3')));
    expect(run).toMatchObject({ status: 'succeeded', changed: false, reason: 'node gpu-node-3 is schedulable and has no remediator.dev/ taints' });
    expect(run.steps).toEqual([]);
  });
});
