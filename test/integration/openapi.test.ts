/**
 * GET /api/v1/openapi.json against the server that serves it: every route the express app
 * registers is described (and every description is routed), and real answers of every route —
 * successes and the errors 400, 401, 403, 404, 409 and 413 — validate against the served
 * description, with its closed objects (additionalProperties: false) enforced.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, fixture, poll, TOKENS, type Harness } from '../helpers/harness.js';
import { validateJson, resolvePointer } from '../helpers/json-schema.js';
import { routeOnlyApp } from '../helpers/route-only-app.js';
import { registeredRoutes } from '../../src/http/openapi-routes.js';
import { isTerminal } from '../../src/domain/run.js';

type Doc = { paths: Record<string, Record<string, { responses: Record<string, any> }>>; components: any };

interface Answer {
  status: number;
  type: string;
  text: string;
  headers: Headers;
}

describe('the OpenAPI description and the routes', () => {
  it('describes every route the app registers, and nothing it does not', async () => {
    const { openApiDocument } = await import('../../src/http/openapi.js');
    const doc = openApiDocument() as unknown as Doc;
    const routed = registeredRoutes(routeOnlyApp()).map((r) => `${r.method.toUpperCase()} ${r.path}`);
    const described = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    expect(routed.length).toBeGreaterThan(20);
    expect(routed.filter((r) => !described.includes(r)), 'routes missing from the OpenAPI description').toEqual([]);
    expect(described.filter((d) => !routed.includes(d)), 'described operations no route serves').toEqual([]);
  });
});

describe('real answers validate against GET /api/v1/openapi.json', () => {
  let h: Harness;
  let doc: Doc;
  /** `METHOD /template` → statuses seen. */
  const seen = new Map<string, Set<number>>();

  beforeAll(async () => {
    h = await startHarness({ extra: 'guards: { manualApproval: destructive }' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  async function call(method: 'GET' | 'POST', path: string, opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (method === 'POST') {
      headers['content-type'] ??= 'application/json';
      body = opts.raw ?? JSON.stringify(opts.body ?? {});
    }
    const res = await fetch(`${h.main.url}${path}`, { method, headers, redirect: 'manual', ...(body !== undefined ? { body } : {}) });
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text(), headers: res.headers };
  }

  /** Checks one answer against the operation `METHOD template` of the served description; returns its JSON. */
  function check(method: 'GET' | 'POST', template: string, answer: Answer): any {
    const op = doc.paths[template]?.[method.toLowerCase()];
    expect(op, `${method} ${template} is described`).toBeDefined();
    let response = op!.responses[String(answer.status)];
    expect(response, `${method} ${template} documents status ${answer.status} (body ${answer.text.slice(0, 200)})`).toBeDefined();
    if (response.$ref) response = resolvePointer(doc, response.$ref);
    (seen.get(`${method} ${template}`) ?? seen.set(`${method} ${template}`, new Set()).get(`${method} ${template}`)!).add(answer.status);
    const content = response.content as Record<string, { schema: unknown }> | undefined;
    if (!content) {
      expect(answer.text, `${method} ${template} ${answer.status} has no body`).toBe('');
      return undefined;
    }
    const mediaType = answer.type.split(';')[0]!.trim();
    const media = content[mediaType];
    expect(media, `${method} ${template} ${answer.status} documents ${mediaType} (has ${Object.keys(content).join(', ')})`).toBeDefined();
    if (mediaType === 'application/x-ndjson') {
      const lines = answer.text.split('\n').filter((l) => l !== '');
      for (const line of lines) expect(validateJson(media!.schema as never, JSON.parse(line), doc), line.slice(0, 300)).toEqual([]);
      return lines.map((l) => JSON.parse(l));
    }
    if (mediaType !== 'application/json') return answer.text;
    const value = JSON.parse(answer.text);
    expect(validateJson(media!.schema as never, value, doc), `${method} ${template} ${answer.status}`).toEqual([]);
    return value;
  }

  const get = async (template: string, path = template, token?: string, headers?: Record<string, string>) =>
    check('GET', template, await call('GET', path, { ...(token ? { token } : {}), ...(headers ? { headers } : {}) }));
  const post = async (template: string, path: string, token: string | undefined, body: unknown) =>
    check('POST', template, await call('POST', path, { ...(token ? { token } : {}), body }));
  const statusOf = async (method: 'GET' | 'POST', template: string, path: string, opts: Parameters<typeof call>[2]) => {
    const answer = await call(method, path, opts);
    check(method, template, answer);
    return answer.status;
  };

  it('serves the description without a token', async () => {
    const res = await call('GET', '/api/v1/openapi.json');
    expect(res.status).toBe(200);
    doc = JSON.parse(res.text);
    expect(doc).toMatchObject({ openapi: '3.1.0' });
    check('GET', '/api/v1/openapi.json', res);
  });

  it('health, readiness and metrics', async () => {
    expect(await get('/healthz')).toEqual({ ok: true });
    expect((await get('/readyz')).ok).toBe(true);
    expect(await get('/metrics')).toContain('remediator_build_info');
  });

  it('the webhook: decisions, an invalid alert, and its errors', async () => {
    const result = await post('/api/v1/alerts', '/api/v1/alerts', TOKENS.alertmanager, fixture('firing-llm-high-latency-p95').body);
    expect(result.decisions[0]).toMatchObject({ decision: 'enqueued', rule: 'scale-slow-llm' });
    const invalid = await post('/api/v1/alerts', '/api/v1/alerts', TOKENS.alertmanager, { alerts: [{ labels: { alertname: 'X' }, extra: true }], somethingNew: 1 });
    expect(invalid.decisions[0]).toMatchObject({ status: 'invalid', decision: 'invalid_params', rule: null });
    expect(await statusOf('POST', '/api/v1/alerts', '/api/v1/alerts', { token: TOKENS.alertmanager, body: { receiver: 'x' } })).toBe(400);
    expect(await statusOf('POST', '/api/v1/alerts', '/api/v1/alerts', { token: TOKENS.alertmanager, raw: '{not json' })).toBe(400);
    expect(await statusOf('POST', '/api/v1/alerts', '/api/v1/alerts', { body: { alerts: [] } })).toBe(401);
    expect(await statusOf('POST', '/api/v1/alerts', '/api/v1/alerts', { token: TOKENS.viewer, body: { alerts: [] } })).toBe(403);
    expect(await statusOf('POST', '/api/v1/alerts', '/api/v1/alerts', { token: TOKENS.alertmanager, raw: JSON.stringify({ alerts: [], pad: 'x'.repeat(300 * 1024) }) })).toBe(413);
  });

  it('simulate: the decisions a notification would get, and its errors', async () => {
    const body = fixture('firing-llm-high-latency-p95').body;
    const simulated = await post('/api/v1/alerts/simulate', '/api/v1/alerts/simulate', TOKENS.viewer, { ...body, alerts: [...body.alerts, { ...body.alerts[0], labels: { alertname: 'Nobody' }, fingerprint: 'f00d' }, { labels: 'x' }] });
    expect(simulated.decisions.map((d: { decision: string }) => d.decision)).toEqual(['duplicate', 'unmatched', 'invalid_params']);
    expect(await statusOf('POST', '/api/v1/alerts/simulate', '/api/v1/alerts/simulate', { token: TOKENS.viewer, body: { receiver: 'x' } })).toBe(400);
    expect(await statusOf('POST', '/api/v1/alerts/simulate', '/api/v1/alerts/simulate', { body: { alerts: [] } })).toBe(401);
    expect(await statusOf('POST', '/api/v1/alerts/simulate', '/api/v1/alerts/simulate', { token: TOKENS.alertmanager, body: { alerts: [] } })).toBe(403);
  });

  it('the alert inbox: a page, filters, and its errors', async () => {
    const page = await get('/api/v1/alerts', '/api/v1/alerts?limit=1', TOKENS.viewer);
    expect(page.items).toHaveLength(1);
    expect(typeof page.nextCursor).toBe('string');
    const unmatched = await get('/api/v1/alerts', `/api/v1/alerts?decision=invalid_params&since=1h&cursor=${encodeURIComponent(page.nextCursor)}`, TOKENS.viewer);
    expect(unmatched.items.every((i: { decision: string }) => i.decision === 'invalid_params')).toBe(true);
    expect(await statusOf('GET', '/api/v1/alerts', '/api/v1/alerts?limit=501', { token: TOKENS.viewer })).toBe(400);
    expect(await statusOf('GET', '/api/v1/alerts', '/api/v1/alerts?cursor=nope', { token: TOKENS.viewer })).toBe(400);
    expect(await statusOf('GET', '/api/v1/alerts', '/api/v1/alerts', {})).toBe(401);
    expect(await statusOf('GET', '/api/v1/alerts', '/api/v1/alerts', { token: TOKENS.alertmanager })).toBe(403);
  });

  it('playbooks and status', async () => {
    const list = await get('/api/v1/playbooks', '/api/v1/playbooks', TOKENS.viewer);
    expect(list.items.map((p: { name: string }) => p.name)).toContain('scale-replicas');
    expect(await statusOf('GET', '/api/v1/playbooks', '/api/v1/playbooks', {})).toBe(401);
    expect((await get('/api/v1/status', '/api/v1/status', TOKENS.viewer)).role).toBe('all');
    expect(await statusOf('GET', '/api/v1/status', '/api/v1/status', { token: TOKENS.alertmanager })).toBe(403);
  });

  it('manual runs, approvals, cancel and ack, with their errors; every run validates', async () => {
    const runs = '/api/v1/runs';
    const dry = await post(runs, runs, TOKENS.operator, { playbook: 'scale-replicas', params: { namespace: 'ml-serving', name: 'llm-inference', maxReplicas: 4 }, reason: 'openapi check', dryRun: true });
    expect(dry.status).toBe('queued');
    const bad = await call('POST', runs, { token: TOKENS.operator, body: { playbook: 'scale-replicas', params: { maxReplicas: 'six' } } });
    expect(check('POST', runs, bad).details.length).toBeGreaterThan(1);
    expect(await statusOf('POST', runs, runs, { token: TOKENS.viewer, body: { playbook: 'scale-replicas', params: {}, reason: 'x' } })).toBe(403);
    const blocked = await call('POST', runs, { token: TOKENS.operator, body: { playbook: 'scale-replicas', params: { namespace: 'kube-system', name: 'coredns', maxReplicas: 3 }, reason: 'x' } });
    expect(blocked.status).toBe(409);
    expect(check('POST', runs, blocked)).toMatchObject({ error: 'blocked', guard: 'namespace' });

    // Destructive manual runs wait for another operator (guards.manualApproval: destructive).
    const waiting = async (playbook: string, params: Record<string, unknown>) => {
      const r = await post(runs, runs, TOKENS.operator, { playbook, params, reason: 'openapi check', dryRun: true });
      expect(r.status).toBe('awaiting_approval');
      return r.id as string;
    };
    const toApprove = await waiting('drain-gpu-node', { node: 'gpu-node-2' });
    const toReject = await waiting('restart-oom-pod', { namespace: 'ml-training', pod: 'trainer-0' });
    const toCancel = await waiting('raise-memory-limit', { namespace: 'ml-batch', name: 'embed-batch', maxLimit: '64Gi' });

    const approve = '/api/v1/runs/{id}/approve';
    expect(await statusOf('POST', approve, `/api/v1/runs/${toApprove}/approve`, { token: TOKENS.operator, body: { reason: 'my own' } })).toBe(403);
    expect(await statusOf('POST', approve, `/api/v1/runs/${toApprove}/approve`, { token: TOKENS.admin, body: {} })).toBe(400);
    expect(await post(approve, `/api/v1/runs/${toApprove}/approve`, TOKENS.admin, { reason: 'checked' })).toEqual({ id: toApprove, status: 'queued' });
    expect(await post('/api/v1/runs/{id}/reject', `/api/v1/runs/${toReject}/reject`, TOKENS.admin, { reason: 'not now' })).toEqual({ id: toReject, status: 'rejected' });
    expect(await statusOf('POST', approve, `/api/v1/runs/${toReject}/approve`, { token: TOKENS.admin, body: { reason: 'too late' } })).toBe(409);
    expect(await statusOf('POST', '/api/v1/runs/{id}/reject', `/api/v1/runs/nope/reject`, { token: TOKENS.admin, body: { reason: 'x' } })).toBe(404);
    expect(await post('/api/v1/runs/{id}/cancel', `/api/v1/runs/${toCancel}/cancel`, TOKENS.operator, { reason: 'changed my mind' })).toEqual({ id: toCancel, status: 'cancelled' });
    expect(await statusOf('POST', '/api/v1/runs/{id}/cancel', `/api/v1/runs/${toCancel}/cancel`, { token: TOKENS.operator, body: { reason: 'again' } })).toBe(409);
    expect(await statusOf('POST', '/api/v1/runs/{id}/cancel', `/api/v1/runs/nope/cancel`, { token: TOKENS.operator, body: { reason: 'x' } })).toBe(404);

    const ack = '/api/v1/runs/{id}/ack';
    expect(await statusOf('POST', ack, `/api/v1/runs/${toReject}/ack`, { token: TOKENS.operator, body: { reason: 'nothing held' } })).toBe(409);
    expect(await statusOf('POST', ack, `/api/v1/runs/${toReject}/ack`, { token: TOKENS.operator, body: { reason: '' } })).toBe(400);
    expect(await statusOf('POST', ack, `/api/v1/runs/nope/ack`, { token: TOKENS.operator, body: { reason: 'x' } })).toBe(404);
    expect(await statusOf('POST', ack, `/api/v1/runs/${toReject}/ack`, { token: TOKENS.viewer, body: { reason: 'x' } })).toBe(403);

    // Every run there is now, once finished, as the API shows it.
    await poll(async () => ((await h.main.runs.list({ limit: 100 })).every((r) => isTerminal(r.status)) ? true : undefined), 30_000, 'runs to finish');
    const page = await get(runs, `${runs}?limit=100`, TOKENS.viewer);
    expect(page.items.length).toBeGreaterThanOrEqual(6);
    const kinds = new Set<string>();
    for (const item of page.items as { id: string }[]) {
      const run = await get('/api/v1/runs/{id}', `/api/v1/runs/${item.id}`, TOKENS.viewer);
      kinds.add(`${run.trigger.source}:${run.status}`);
    }
    expect([...kinds]).toEqual(expect.arrayContaining(['alert:succeeded', 'manual:succeeded', 'manual:blocked', 'manual:rejected', 'manual:cancelled']));
    expect(await statusOf('GET', runs, `${runs}?status=bogus`, { token: TOKENS.viewer })).toBe(400);
    expect(await statusOf('GET', '/api/v1/runs/{id}', '/api/v1/runs/does-not-exist', { token: TOKENS.viewer })).toBe(404);
  });

  it('pause and resume', async () => {
    expect(await post('/api/v1/pause', '/api/v1/pause', TOKENS.admin, { reason: 'openapi check', playbook: 'drain-gpu-node' })).toEqual({ paused: ['drain-gpu-node'] });
    expect((await get('/api/v1/status', '/api/v1/status', TOKENS.viewer)).paused['drain-gpu-node']).toMatchObject({ by: 'root' });
    expect(await post('/api/v1/resume', '/api/v1/resume', TOKENS.admin, { reason: 'done', playbook: 'drain-gpu-node' })).toEqual({ paused: [] });
    expect(await statusOf('POST', '/api/v1/pause', '/api/v1/pause', { token: TOKENS.operator, body: { reason: 'x' } })).toBe(403);
    expect(await statusOf('POST', '/api/v1/resume', '/api/v1/resume', { token: TOKENS.admin, body: { reason: 'x', playbook: 'no-such-playbook' } })).toBe(400);
  });

  it('the audit log: a page, the NDJSON export, verify, and their errors', async () => {
    const audit = '/api/v1/audit';
    const page = await get(audit, `${audit}?limit=1000`, TOKENS.viewer);
    const types = new Set((page.items as { type: string }[]).map((i) => i.type));
    expect([...types]).toEqual(expect.arrayContaining(['run_created', 'run_status', 'guard_blocked', 'kube_mutation', 'operator_action', 'auth_failed', 'health_check']));
    const exported = await get(audit, audit, TOKENS.viewer, { accept: 'application/x-ndjson' });
    expect(exported.length).toBeGreaterThan(10);
    expect(await get(audit, `${audit}?format=ndjson&type=operator_action`, TOKENS.viewer)).not.toHaveLength(0);
    expect(await statusOf('GET', audit, `${audit}?type=bogus`, { token: TOKENS.viewer })).toBe(400);
    expect(await statusOf('GET', audit, `${audit}?color=blue`, { token: TOKENS.viewer })).toBe(400);
    await poll(async () => ((await get('/api/v1/audit/verify', '/api/v1/audit/verify', TOKENS.viewer)).ok ? true : undefined), 10_000, 'a verified chain');
    expect(await statusOf('GET', '/api/v1/audit/verify', '/api/v1/audit/verify?checkpoint=nope', { token: TOKENS.viewer })).toBe(400);
  });

  it('the review page', async () => {
    const redirect = await call('GET', '/ui');
    expect(redirect.headers.get('location')).toBe('/ui/');
    check('GET', '/ui', redirect);
    expect(await get('/ui/')).toContain('<html');
    expect(await get('/ui/index.html')).toContain('<html');
    await get('/ui/app.js');
    const css = await call('GET', '/ui/style.css');
    check('GET', '/ui/style.css', css);
    expect(await statusOf('GET', '/ui/style.css', '/ui/style.css', { headers: { 'if-none-match': css.headers.get('etag')! } })).toBe(304);
  });

  it('exercised every described operation, and each error status 400, 401, 403, 404, 409 and 413', () => {
    const described = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    expect(described.filter((d) => !seen.has(d)), 'operations no test called').toEqual([]);
    const statuses = new Set([...seen.values()].flatMap((s) => [...s]));
    for (const status of [200, 202, 301, 304, 400, 401, 403, 404, 409, 413]) expect(statuses, `status ${status} seen`).toContain(status);
  });
});
