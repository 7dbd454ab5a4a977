import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSimCluster, type SimCluster } from '../../src/sim/sim-cluster.js';
import { kube } from '../helpers/sim-helpers.js';

const DEPLOY = '/apis/apps/v1/namespaces/ml-serving/deployments';

describe('sim: REST semantics and Status bodies', () => {
  let sim: SimCluster;

  beforeEach(async () => {
    sim = await startSimCluster({ readyDelayMs: 0 });
  });
  afterEach(async () => {
    await sim.close();
  });

  it('answers 404 with the exact Status a real apiserver sends', async () => {
    const res = await kube(sim, 'GET', '/api/v1/namespaces/ml-serving/pods/x');
    expect(res.status).toBe(404);
    expect(res.contentType).toBe('application/json');
    expect(res.text).toBe(
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"x\\" not found","reason":"NotFound","details":{"name":"x","kind":"pods"},"code":404}',
    );
    const grouped = await kube(sim, 'GET', `${DEPLOY}/nope/scale`);
    expect(grouped.status).toBe(404);
    expect(grouped.body).toMatchObject({ message: 'deployments.apps "nope" not found', details: { group: 'apps', kind: 'deployments' } });
    const unknownPath = await kube(sim, 'GET', '/apis/apps/v1/namespaces/ml-serving/widgets');
    expect(unknownPath.body).toMatchObject({ reason: 'NotFound', message: 'the server could not find the requested resource' });
  });

  it('serves discovery, version and typed lists', async () => {
    const version = await kube(sim, 'GET', '/version');
    expect(version.body).toMatchObject({ major: '1', minor: '32' });
    expect(version.body.gitVersion).toMatch(/^v1\.32\./);
    const core = await kube(sim, 'GET', '/api/v1');
    const names = core.body.resources.map((r: { name: string }) => r.name);
    expect(names).toEqual(expect.arrayContaining(['pods', 'pods/eviction', 'pods/log', 'nodes', 'namespaces', 'events']));
    expect(core.body.resources.find((r: { name: string }) => r.name === 'pods/eviction')).toMatchObject({ group: 'policy', version: 'v1', kind: 'Eviction' });
    const groups = await kube(sim, 'GET', '/apis');
    const versions = groups.body.groups.flatMap((g: { versions: Array<{ groupVersion: string }> }) => g.versions.map((v) => v.groupVersion));
    expect(versions).toEqual(expect.arrayContaining(['apps/v1', 'policy/v1', 'autoscaling/v1', 'autoscaling/v2']));
    const apps = await kube(sim, 'GET', '/apis/apps/v1');
    expect(apps.body.resources.find((r: { name: string }) => r.name === 'deployments/scale')).toMatchObject({ group: 'autoscaling', version: 'v1', kind: 'Scale' });
    const pods = await kube(sim, 'GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dgpu-node-3');
    expect(pods.body.kind).toBe('PodList');
    expect(pods.body.metadata.resourceVersion).toMatch(/^\d+$/);
    expect(pods.body.items.length).toBeGreaterThan(0);
    expect(pods.body.items.every((p: { spec: { nodeName: string } }) => p.spec.nodeName === 'gpu-node-3')).toBe(true);
    const badField = await kube(sim, 'GET', '/api/v1/pods?fieldSelector=spec.bogus%3Dx');
    expect(badField.status).toBe(400);
    expect(badField.body.message).toBe('field label not supported: spec.bogus');
  });

  it('filters by label selector and pages with limit/continue', async () => {
    const sel = encodeURIComponent('app.kubernetes.io/name in (llm-inference,llm-api),!nothing');
    const res = await kube(sim, 'GET', `/api/v1/namespaces/ml-serving/pods?labelSelector=${sel}`);
    expect(res.body.items).toHaveLength(5);
    const page1 = await kube(sim, 'GET', '/api/v1/pods?limit=10');
    expect(page1.body.items).toHaveLength(10);
    expect(page1.body.metadata.continue).toBeTruthy();
    const seen = new Set(page1.body.items.map((p: { metadata: { name: string } }) => p.metadata.name));
    let token: string | undefined = page1.body.metadata.continue;
    while (token) {
      const next = await kube(sim, 'GET', `/api/v1/pods?limit=10&continue=${encodeURIComponent(token)}`);
      for (const p of next.body.items) seen.add(p.metadata.name);
      token = next.body.metadata.continue;
    }
    expect(seen.size).toBe(sim.list('pods').length);
  });

  it('bumps one global resourceVersion on every write and answers 409 Conflict to a stale one', async () => {
    const before = await kube(sim, 'GET', `${DEPLOY}/llm-api`);
    const rv = before.body.metadata.resourceVersion as string;
    const ok = await kube(sim, 'PATCH', `${DEPLOY}/llm-api`, {
      body: { metadata: { resourceVersion: rv, labels: { touched: 'yes' } } },
      contentType: 'application/merge-patch+json',
    });
    expect(ok.status).toBe(200);
    expect(Number(ok.body.metadata.resourceVersion)).toBeGreaterThan(Number(rv));
    const stale = await kube(sim, 'PATCH', `${DEPLOY}/llm-api`, {
      body: { metadata: { resourceVersion: rv, labels: { touched: 'again' } } },
      contentType: 'application/merge-patch+json',
    });
    expect(stale.status).toBe(409);
    expect(stale.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message:
        'Operation cannot be fulfilled on deployments.apps "llm-api": the object has been modified; please apply your changes to the latest version and try again',
      reason: 'Conflict',
      details: { name: 'llm-api', group: 'apps', kind: 'deployments' },
      code: 409,
    });
    const put = await kube(sim, 'PUT', `${DEPLOY}/llm-api`, { body: { ...before.body, spec: { ...before.body.spec, replicas: 3 } } });
    expect(put.status).toBe(409);
    const unchanged = await kube(sim, 'PATCH', `${DEPLOY}/llm-api`, { body: { metadata: { labels: { touched: 'yes' } } }, contentType: 'application/merge-patch+json' });
    expect(unchanged.body.metadata.resourceVersion).toBe(ok.body.metadata.resourceVersion);
  });

  it('rejects invalid objects with 422 Invalid and duplicates with 409 AlreadyExists', async () => {
    const neg = await kube(sim, 'PATCH', `${DEPLOY}/llm-api`, { body: { spec: { replicas: -1 } }, contentType: 'application/merge-patch+json' });
    expect(neg.status).toBe(422);
    expect(neg.body).toMatchObject({
      reason: 'Invalid',
      message: 'Deployment.apps "llm-api" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0',
      details: { name: 'llm-api', group: 'apps', kind: 'Deployment', causes: [{ reason: 'FieldValueInvalid', field: 'spec.replicas' }] },
    });
    const badName = await kube(sim, 'POST', '/api/v1/namespaces/default/pods', {
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'Bad_Name' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
    });
    expect(badName.status).toBe(422);
    expect(badName.body.message).toMatch(/^Pod "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);
    const dup = await kube(sim, 'POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ml-serving' } } });
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ reason: 'AlreadyExists', message: 'namespaces "ml-serving" already exists' });
    const noNs = await kube(sim, 'POST', '/api/v1/namespaces/ghost/pods', {
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
    });
    expect(noNs.status).toBe(404);
    expect(noNs.body.message).toBe('namespaces "ghost" not found');
  });

  it('applies merge, strategic and JSON patches with the right failure codes', async () => {
    const node = '/api/v1/nodes/gpu-node-1';
    const taints = [{ key: 'a', value: '1', effect: 'NoSchedule' }];
    await kube(sim, 'PATCH', node, { body: { spec: { taints } }, contentType: 'application/strategic-merge-patch+json' });
    const replaced = await kube(sim, 'PATCH', node, {
      body: { spec: { taints: [{ key: 'b', effect: 'PreferNoSchedule' }] } },
      contentType: 'application/strategic-merge-patch+json',
    });
    // spec.taints is atomic: a strategic patch replaces the whole list.
    expect(replaced.body.spec.taints).toEqual([{ key: 'b', effect: 'PreferNoSchedule' }]);

    const dep = `${DEPLOY}/llm-api`;
    const smp = await kube(sim, 'PATCH', dep, {
      body: { spec: { template: { spec: { containers: [{ name: 'llm-api', image: 'ghcr.io/example/llm-api:1.15.0' }] } } } },
      contentType: 'application/strategic-merge-patch+json',
    });
    const container = smp.body.spec.template.spec.containers[0];
    // Containers merge by name: the image changed, the resources stayed.
    expect(container).toMatchObject({ name: 'llm-api', image: 'ghcr.io/example/llm-api:1.15.0', resources: { limits: { memory: '16Gi' } } });

    const json = await kube(sim, 'PATCH', dep, {
      body: [
        { op: 'test', path: '/spec/replicas', value: 2 },
        { op: 'replace', path: '/spec/replicas', value: 3 },
      ],
      contentType: 'application/json-patch+json',
    });
    expect(json.status).toBe(200);
    expect(json.body.spec.replicas).toBe(3);
    const failedTest = await kube(sim, 'PATCH', dep, {
      body: [{ op: 'test', path: '/spec/replicas', value: 2 }],
      contentType: 'application/json-patch+json',
    });
    expect(failedTest.status).toBe(422);
    expect(failedTest.body).toMatchObject({ reason: 'Invalid', message: 'the server rejected our request due to an error in our request' });
    const objectAsJsonPatch = await kube(sim, 'PATCH', dep, { body: { spec: { replicas: 1 } }, contentType: 'application/json-patch+json' });
    expect(objectAsJsonPatch.status).toBe(400);
    expect(objectAsJsonPatch.body).toMatchObject({ reason: 'BadRequest' });
    expect(objectAsJsonPatch.body.message).toContain('cannot unmarshal object');
    const unknownType = await kube(sim, 'PATCH', dep, { body: { spec: {} }, contentType: 'text/plain' });
    expect(unknownType.status).toBe(415);
    expect(unknownType.body.reason).toBe('UnsupportedMediaType');
    const notJson = await kube(sim, 'PATCH', dep, { raw: '{not json', contentType: 'application/merge-patch+json' });
    expect(notJson.status).toBe(400);
  });

  it('serves the scale subresource with the parent resourceVersion and a selector', async () => {
    const scale = await kube(sim, 'GET', `${DEPLOY}/llm-inference/scale`);
    const dep = await kube(sim, 'GET', `${DEPLOY}/llm-inference`);
    expect(scale.body).toMatchObject({
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name: 'llm-inference', namespace: 'ml-serving', resourceVersion: dep.body.metadata.resourceVersion },
      spec: { replicas: 3 },
      status: { replicas: 3, selector: 'app.kubernetes.io/name=llm-inference' },
    });
    const patched = await kube(sim, 'PATCH', `${DEPLOY}/llm-inference/scale`, {
      body: { metadata: { resourceVersion: scale.body.metadata.resourceVersion }, spec: { replicas: 4 } },
      contentType: 'application/merge-patch+json',
    });
    expect(patched.status).toBe(200);
    expect(patched.body.spec.replicas).toBe(4);
    const stale = await kube(sim, 'PATCH', `${DEPLOY}/llm-inference/scale`, {
      body: { metadata: { resourceVersion: scale.body.metadata.resourceVersion }, spec: { replicas: 5 } },
      contentType: 'application/merge-patch+json',
    });
    expect(stale.status).toBe(409);
    expect(stale.body.message).toContain('Operation cannot be fulfilled on deployments.apps "llm-inference"');
    const negative = await kube(sim, 'PUT', '/apis/apps/v1/namespaces/ml-training/statefulsets/trainer/scale', {
      body: { kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name: 'trainer' }, spec: { replicas: -2 } },
    });
    expect(negative.status).toBe(422);
    expect(negative.body.message).toBe('Scale.autoscaling "trainer" is invalid: spec.replicas: Invalid value: -2: must be greater than or equal to 0');
  });

  it('dryRun=All validates and answers like a real write but changes nothing', async () => {
    const rvBefore = (await kube(sim, 'GET', '/api/v1/namespaces')).body.metadata.resourceVersion;
    const podsBefore = sim.list('pods').map((p) => p.metadata.uid).sort();
    const scale = await kube(sim, 'PATCH', `${DEPLOY}/llm-api/scale?dryRun=All`, {
      body: { spec: { replicas: 5 } },
      contentType: 'application/merge-patch+json',
    });
    expect(scale.status).toBe(200);
    expect(scale.body.spec.replicas).toBe(5);
    const cordon = await kube(sim, 'PATCH', '/api/v1/nodes/gpu-node-3?dryRun=All', {
      body: { spec: { unschedulable: true } },
      contentType: 'application/strategic-merge-patch+json',
    });
    expect(cordon.body.spec.unschedulable).toBe(true);
    const del = await kube(sim, 'DELETE', '/api/v1/namespaces/ml-serving/pods/llm-api-7d9f8b6c5-x2kqp?dryRun=All');
    expect(del.status).toBe(200);
    expect(del.body.metadata.name).toBe('llm-api-7d9f8b6c5-x2kqp');
    const created = await kube(sim, 'POST', '/api/v1/namespaces/default/events?dryRun=All', {
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: 'x.1' },
        involvedObject: { kind: 'Node', name: 'gpu-node-3' },
        reason: 'RemediationCordon',
        message: 'dry',
        type: 'Normal',
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.metadata.uid).toBeTruthy();
    const invalidDry = await kube(sim, 'PATCH', `${DEPLOY}/llm-api/scale?dryRun=All`, {
      body: { spec: { replicas: -1 } },
      contentType: 'application/merge-patch+json',
    });
    expect(invalidDry.status).toBe(422);
    const badValue = await kube(sim, 'DELETE', '/api/v1/namespaces/ml-serving/pods/llm-api-7d9f8b6c5-x2kqp?dryRun=Yes');
    expect(badValue.status).toBe(422);
    expect(badValue.body.message).toBe('DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Yes"}: supported values: "All"');

    expect((await kube(sim, 'GET', '/api/v1/namespaces')).body.metadata.resourceVersion).toBe(rvBefore);
    expect(sim.list('pods').map((p) => p.metadata.uid).sort()).toEqual(podsBefore);
    expect(sim.get('nodes', undefined, 'gpu-node-3')?.spec?.['unschedulable']).toBeUndefined();
    expect(sim.list('events', 'default')).toHaveLength(0);
    expect(sim.mutations().filter((r) => r.dryRun)).toHaveLength(5);
  });

  it('returns the pod on DELETE and enforces uid / resourceVersion preconditions', async () => {
    const path = '/api/v1/namespaces/ml-serving/pods/llm-api-7d9f8b6c5-x2kqp';
    const pod = (await kube(sim, 'GET', path)).body;
    const wrongUid = await kube(sim, 'DELETE', path, { body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: 'not-the-uid' } } });
    expect(wrongUid.status).toBe(409);
    expect(wrongUid.body).toMatchObject({
      reason: 'Conflict',
      message: `Operation cannot be fulfilled on pods "llm-api-7d9f8b6c5-x2kqp": Precondition failed: UID in precondition: not-the-uid, UID in object meta: ${pod.metadata.uid}`,
    });
    const wrongRv = await kube(sim, 'DELETE', path, { body: { preconditions: { resourceVersion: '1' } } });
    expect(wrongRv.status).toBe(409);
    const deleted = await kube(sim, 'DELETE', path, { body: { preconditions: { uid: pod.metadata.uid } } });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ kind: 'Pod', metadata: { name: 'llm-api-7d9f8b6c5-x2kqp', uid: pod.metadata.uid } });
    expect((await kube(sim, 'GET', path)).status).toBe(404);
    const deployment = await kube(sim, 'DELETE', '/apis/apps/v1/namespaces/kube-system/deployments/coredns');
    expect(deployment.body).toMatchObject({ kind: 'Status', status: 'Success', details: { name: 'coredns', group: 'apps', kind: 'deployments' } });
    // Background cascading deletion takes the ReplicaSet and its pods with it.
    expect(sim.list('replicasets', 'kube-system')).toHaveLength(0);
    expect(sim.list('pods', 'kube-system').filter((p) => p.metadata.name?.startsWith('coredns'))).toHaveLength(0);
  });

  it('validates core/v1 event namespaces like legacyValidateEvent', async () => {
    const event = (involvedNs?: string) => ({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: 'evt.' },
      involvedObject: { kind: involvedNs ? 'Pod' : 'Node', name: 'x', ...(involvedNs ? { namespace: involvedNs } : {}) },
      reason: 'RemediationCordon',
      message: 'm',
      type: 'Normal',
      reportingComponent: 'remediator',
    });
    expect((await kube(sim, 'POST', '/api/v1/namespaces/default/events', { body: event() })).status).toBe(201);
    expect((await kube(sim, 'POST', '/api/v1/namespaces/ml-serving/events', { body: event('ml-serving') })).status).toBe(201);
    const mismatch = await kube(sim, 'POST', '/api/v1/namespaces/ml-serving/events', { body: event('ml-batch') });
    expect(mismatch.status).toBe(422);
    expect(mismatch.body.message).toContain('involvedObject.namespace: Invalid value: "ml-batch": does not match event.namespace');
    const nodeElsewhere = await kube(sim, 'POST', '/api/v1/namespaces/ml-serving/events', { body: event() });
    expect(nodeElsewhere.status).toBe(422);
    const listed = await kube(sim, 'GET', '/api/v1/events?fieldSelector=reason%3DRemediationCordon');
    expect(listed.body.items).toHaveLength(2);
  });

  it('serves HPAs in autoscaling/v2 and v1', async () => {
    const v2 = await kube(sim, 'GET', '/apis/autoscaling/v2/namespaces/ml-serving/horizontalpodautoscalers');
    expect(v2.body.items[0].spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'embedding-service' });
    const v1 = await kube(sim, 'GET', '/apis/autoscaling/v1/namespaces/ml-serving/horizontalpodautoscalers/embedding-service');
    expect(v1.body).toMatchObject({ apiVersion: 'autoscaling/v1', spec: { maxReplicas: 6, targetCPUUtilizationPercentage: 70 } });
  });

  it('requires the bearer token when one is configured', async () => {
    const locked = await startSimCluster({ token: 'secret', seed: {} });
    try {
      const anonymous = await kube(locked, 'GET', '/api/v1/nodes', { token: null });
      expect(anonymous.status).toBe(401);
      expect(anonymous.body).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
      expect((await kube(locked, 'GET', '/api/v1/nodes', { token: 'wrong' })).status).toBe(401);
      expect((await kube(locked, 'GET', '/api/v1/nodes', { token: 'secret' })).status).toBe(200);
      expect((await kube(locked, 'GET', '/version', { token: null })).status).toBe(200);
    } finally {
      await locked.close();
    }
  });

  it('records every request', async () => {
    await kube(sim, 'GET', '/api/v1/nodes');
    await kube(sim, 'PATCH', '/api/v1/nodes/gpu-node-1?dryRun=All', { body: { spec: { unschedulable: true } }, contentType: 'application/strategic-merge-patch+json' });
    const [get, patch] = sim.requests;
    expect(get).toMatchObject({ method: 'GET', path: '/api/v1/nodes', status: 200, dryRun: false });
    expect(patch).toMatchObject({
      method: 'PATCH',
      path: '/api/v1/nodes/gpu-node-1',
      query: { dryRun: 'All' },
      dryRun: true,
      contentType: 'application/strategic-merge-patch+json',
      body: { spec: { unschedulable: true } },
      status: 200,
    });
    expect(sim.mutations()).toEqual([patch]);
  });
});
