/**
 * GET /api/v1/audit and /api/v1/audit/verify against a running service on a real redis-server:
 * every filter, paging without gaps or repeats (also while entries are appended), the NDJSON
 * form, validation errors, and verify on an intact and on a tampered log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, fixture, poll, TOKENS, type Harness } from '../helpers/harness.js';
import type { AuditEntry } from '../../src/audit/audit-entry.js';
import type { AuditItem, AuditPage } from '../../src/audit/audit-query.js';
import { compareStreamIds } from '../../src/audit/stream-id.js';
import { auditKeys } from '../../src/audit/audit-keys.js';
import type { AuditChainReport } from '../../src/audit/verify-audit-chain.js';

type Row = [id: string, fields: string[]];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('audit query API', () => {
  let h: Harness;
  const get = async <T = AuditPage>(query: Record<string, string | number>, token = TOKENS.viewer): Promise<{ status: number; body: T }> => {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
    const res = await h.get(`/api/v1/audit?${qs}`, token);
    return { status: res.status, body: res.body as T };
  };
  /** Every page of a query, following nextCursor. */
  const all = async (query: Record<string, string | number>): Promise<AuditItem[]> => {
    const items: AuditItem[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: AuditPage } = await get({ ...query, limit: 1000, ...(cursor ? { cursor } : {}) });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      items.push(...res.body.items);
      cursor = res.body.nextCursor;
    } while (cursor);
    return items;
  };
  const verify = async (query = ''): Promise<AuditChainReport & { status: number }> => {
    const res = await h.get(`/api/v1/audit/verify${query}`, TOKENS.viewer);
    return { status: res.status, ...(res.body as AuditChainReport) };
  };

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('needs a viewer token', async () => {
    expect((await h.get('/api/v1/audit')).status).toBe(401);
    expect((await h.get('/api/v1/audit', TOKENS.alertmanager)).status).toBe(403);
    expect((await h.get('/api/v1/audit/verify')).status).toBe(401);
    expect((await h.get('/api/v1/audit', TOKENS.operator)).status).toBe(200);
  });

  it('applies every filter, newest first, with exact and segment-prefix targets', async () => {
    const at = new Date().toISOString();
    const base = { at, actor: 'ft-bot' };
    const A: AuditEntry[] = [
      { ...base, type: 'run_created', runId: 'ft-r1', target: 'node/gpu-node-3', playbook: 'drain-gpu-node', rule: 'ft-drain', source: 'alert', params: {}, dryRun: false, status: 'queued' },
      { ...base, type: 'kube_mutation', runId: 'ft-r1', target: 'node/gpu-node-3', playbook: 'drain-gpu-node', rule: 'ft-drain', action: 'evict', object: 'pod/ml-serving/llm-api-1', method: 'POST', path: '/x', dryRun: false, result: 'ok' },
      { ...base, type: 'run_status', runId: 'ft-r2', target: 'node/gpu-node-30', playbook: 'drain-gpu-node', rule: 'ft-drain', from: 'queued', to: 'running' },
    ];
    await h.main.audit.append(A);
    await sleep(25);
    const t1 = Date.now();
    await sleep(25);
    const B: AuditEntry[] = [
      { ...base, type: 'run_status', runId: 'ft-r3', target: 'deployment/ml-serving/llm-api', playbook: 'scale-replicas', rule: 'ft-scale', from: 'running', to: 'succeeded' },
      { ...base, type: 'run_status', runId: 'ft-r4', target: 'deployment/ml-serving-2/llm-api', playbook: 'scale-replicas', rule: 'ft-scale', from: 'running', to: 'failed' },
      { ...base, actor: 'ft-carol', type: 'operator_action', action: 'pause', reason: 'maintenance', scope: 'global' },
    ];
    await h.main.audit.append(B);
    await sleep(25);
    const t2 = Date.now();
    await sleep(25);
    const C: AuditEntry[] = [
      { ...base, actor: 'ft-carol', type: 'operator_action', runId: 'ft-r1', target: 'node/gpu-node-3', playbook: 'drain-gpu-node', action: 'approve', reason: 'looks right' },
      { ...base, type: 'guard_blocked', runId: 'ft-r5', target: 'node/gpu-node-4', playbook: 'drain-gpu-node', rule: 'ft-drain', guard: 'node_budget', detail: 'too many nodes' },
    ];
    await h.main.audit.append(C);
    const ours = [...A, ...B, ...C].map((e) => e.runId ?? `${e.actor}:${e.type}`);
    const key = (i: AuditItem) => ('runId' in i && i.runId ? i.runId : `${i.actor}:${i.type}`);
    /** Our entries the query returns, as keys in answer order; and every answer must satisfy `pred`. */
    const check = async (query: Record<string, string | number>, pred: (i: AuditItem) => boolean, expected: string[]) => {
      const items = await all(query);
      for (const i of items) expect(pred(i), `${JSON.stringify(query)} returned ${JSON.stringify(i)}`).toBe(true);
      const got = items.filter((i) => (i.actor === 'ft-bot' || i.actor === 'ft-carol') && ours.includes(key(i))).map(key);
      expect(got, JSON.stringify(query)).toEqual(expected);
      for (let k = 1; k < items.length; k++) expect(compareStreamIds(items[k - 1]!.id, items[k]!.id)).toBe(1);
      return items;
    };
    const has = (i: AuditItem, k: string) => (i as unknown as Record<string, unknown>)[k];

    const everything = await check({ actor: 'ft-bot' }, (i) => i.actor === 'ft-bot', ['ft-r5', 'ft-r4', 'ft-r3', 'ft-r2', 'ft-r1', 'ft-r1']);
    expect(everything[0]).toMatchObject({ type: 'guard_blocked', guard: 'node_budget', actor: 'ft-bot', id: expect.stringMatching(/^\d+-\d+$/), sealed: expect.any(Boolean) });
    await check({ actor: 'ft-carol' }, (i) => i.actor === 'ft-carol', ['ft-r1', 'ft-carol:operator_action']);
    await check({ type: 'run_status' }, (i) => i.type === 'run_status', ['ft-r4', 'ft-r3', 'ft-r2']);
    await check({ type: 'guard_blocked,operator_action' }, (i) => ['guard_blocked', 'operator_action'].includes(i.type), ['ft-r5', 'ft-r1', 'ft-carol:operator_action']);
    // Exact target: not gpu-node-30; the kube_mutation of the run counts through its target.
    await check({ target: 'node/gpu-node-3' }, (i) => has(i, 'target') === 'node/gpu-node-3' || has(i, 'object') === 'node/gpu-node-3', ['ft-r1', 'ft-r1', 'ft-r1']);
    await check({ target: 'node/', actor: 'ft-bot' }, (i) => String(has(i, 'target')).startsWith('node/'), ['ft-r5', 'ft-r2', 'ft-r1', 'ft-r1']);
    // A prefix ends at a path segment: ml-serving, not ml-serving-2.
    await check({ target: 'deployment/ml-serving' }, (i) => String(has(i, 'target')).startsWith('deployment/ml-serving/'), ['ft-r3']);
    // A kube_mutation's object matches too: the pods evicted from gpu-node-3 by a drain.
    await check({ target: 'pod/ml-serving/', actor: 'ft-bot' }, (i) => i.type === 'kube_mutation', ['ft-r1']);
    await check({ playbook: 'scale-replicas' }, (i) => has(i, 'playbook') === 'scale-replicas', ['ft-r4', 'ft-r3']);
    await check({ rule: 'ft-drain' }, (i) => has(i, 'rule') === 'ft-drain', ['ft-r5', 'ft-r2', 'ft-r1', 'ft-r1']);
    await check({ runId: 'ft-r1' }, (i) => has(i, 'runId') === 'ft-r1', ['ft-r1', 'ft-r1', 'ft-r1']);
    await check({ runId: 'ft-r1', type: 'kube_mutation' }, (i) => has(i, 'runId') === 'ft-r1' && i.type === 'kube_mutation', ['ft-r1']);
    // since/until: RFC 3339 instants and durations back from now, on the time Redis appended.
    const ms = (i: AuditItem) => Number(i.id.split('-')[0]);
    await check({ actor: 'ft-bot', since: new Date(t1).toISOString() }, (i) => ms(i) >= t1, ['ft-r5', 'ft-r4', 'ft-r3']);
    await check({ actor: 'ft-bot', until: new Date(t1).toISOString() }, (i) => ms(i) <= t1, ['ft-r2', 'ft-r1', 'ft-r1']);
    await check({ actor: 'ft-bot', since: new Date(t1).toISOString(), until: new Date(t2).toISOString() }, (i) => ms(i) >= t1 && ms(i) <= t2, ['ft-r4', 'ft-r3']);
    await check({ actor: 'ft-bot', since: '1h' }, () => true, ['ft-r5', 'ft-r4', 'ft-r3', 'ft-r2', 'ft-r1', 'ft-r1']);
    await check({ actor: 'ft-bot', until: '1h' }, () => false, []);
    // after: strictly newer than a stream id (what --follow polls with).
    const r3 = everything.find((i) => key(i) === 'ft-r3')!;
    await check({ actor: 'ft-bot', after: r3.id }, (i) => compareStreamIds(i.id, r3.id) > 0, ['ft-r5', 'ft-r4']);
  });

  it('rejects bad queries with 400 and the offending parameter', async () => {
    const cases: [Record<string, string | number>, string][] = [
      [{ since: 'yesterday' }, 'since'],
      [{ until: '2024-13-45' }, 'until'],
      [{ type: 'run_create' }, 'type'],
      [{ limit: 0 }, 'limit'],
      [{ limit: 1001 }, 'limit'],
      [{ limit: 'ten' }, 'limit'],
      [{ cursor: 'not-a-cursor' }, 'cursor'],
      [{ cursor: Buffer.from('a1:12').toString('base64url') }, 'cursor'],
      [{ after: 'latest' }, 'after'],
      [{ run: 'r1' }, 'run'],
    ];
    for (const [query, path] of cases) {
      const res = await get<{ error: string; message: string; details: { path: string }[] }>(query);
      expect(res.status, JSON.stringify(query)).toBe(400);
      expect(res.body.error).toBe('invalid_request');
      expect(res.body.details.map((d) => d.path)).toContain(path);
    }
    const res = await h.get('/api/v1/audit?type=run_status&type=bogus', TOKENS.viewer);
    expect(res.status).toBe(400);
    expect(res.body.details[0].message).toMatch(/unknown type bogus/);
  });

  it('pages across many entries without gaps or repeats, also while new entries arrive', async () => {
    const entry = (i: number): AuditEntry => ({ type: 'run_status', at: new Date().toISOString(), actor: 'pager', runId: `pg-${i}`, to: 'running', reason: `page test ${i}` });
    const ids: string[] = [];
    for (let i = 0; i < 260; i += 20) ids.push(...(await h.main.audit.append(Array.from({ length: 20 }, (_, k) => entry(i + k)))));
    const newestFirst = [...ids].reverse();

    // Default limit 100; only nextCursor: null ends.
    const first = await get({ actor: 'pager' });
    expect(first.body.items).toHaveLength(100);
    expect(first.body.nextCursor).toEqual(expect.any(String));

    const seen: string[] = [];
    const late: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { status: number; body: AuditPage } = await get({ actor: 'pager', limit: 37, ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(37);
      seen.push(...res.body.items.map((i) => i.id));
      cursor = res.body.nextCursor;
      pages++;
      // New entries between pages land above every cursor: they never shift the pages.
      late.push(...(await h.main.audit.append([entry(1000 + pages), entry(2000 + pages)])));
    } while (cursor);
    expect(pages).toBe(8);
    expect(seen).toEqual(newestFirst);
    expect(new Set(seen).size).toBe(260);

    // A fresh first page shows the late ones first.
    const again = await all({ actor: 'pager' });
    expect(again.map((i) => i.id)).toEqual([...late].reverse().concat(newestFirst));

    // Unfiltered paging across the whole log: also complete and strictly descending.
    const total = await h.main.redis.xlen(auditKeys(h.config.redis.prefix).stream);
    const unfiltered = await all({});
    expect(unfiltered.length).toBeGreaterThanOrEqual(total);
    expect(new Set(unfiltered.map((i) => i.id)).size).toBe(unfiltered.length);
  });

  it('audits a real run end to end: run_created, trigger, status changes and the mutation, all filterable', async () => {
    const res = await h.call('/api/v1/runs', TOKENS.operator, { playbook: 'scale-replicas', params: { namespace: 'ml-serving', name: 'llm-api', maxReplicas: 5 }, reason: 'p95 above SLO' });
    expect(res.status).toBe(202);
    const runId = res.body.id as string;
    expect((await h.waitRun(runId)).status).toBe('succeeded');
    const items = await poll(async () => {
      const got = await all({ runId });
      return got.some((i) => i.type === 'run_status' && i.to === 'succeeded') ? got : undefined;
    }, 10_000, 'the final run_status entry');
    expect(items.map((i) => i.type).reverse()).toEqual(expect.arrayContaining(['run_created', 'operator_action', 'run_status', 'kube_mutation']));
    expect(items.find((i) => i.type === 'operator_action')).toMatchObject({ actor: 'alice', action: 'trigger', reason: 'p95 above SLO' });
    expect(items.find((i) => i.type === 'kube_mutation' && i.action === 'scale')).toMatchObject({ action: 'scale', result: 'ok', before: { replicas: 2 }, after: { replicas: 3 } });
    expect((await all({ target: 'deployment/ml-serving', playbook: 'scale-replicas', actor: 'alice' })).map((i) => ('runId' in i ? i.runId : undefined))).toContain(runId);
    // Sealed within seconds of being written.
    await poll(async () => ((await all({ runId })).every((i) => i.sealed) ? true : undefined), 10_000, 'entries sealed');
  });

  it('streams NDJSON oldest first for Accept: application/x-ndjson (or format=ndjson)', async () => {
    const res = await fetch(`${h.main.url}/api/v1/audit?actor=pager`, { headers: { authorization: `Bearer ${TOKENS.viewer}`, accept: 'application/x-ndjson' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = (await res.text()).split('\n');
    expect(lines.pop()).toBe('');
    const items = lines.map((l) => JSON.parse(l) as AuditItem);
    const json = await all({ actor: 'pager' });
    expect(items.map((i) => i.id)).toEqual(json.map((i) => i.id).reverse());
    expect(items[0]).toMatchObject({ type: 'run_status', actor: 'pager', runId: 'pg-0', sealed: expect.any(Boolean) });

    const viaParam = await h.get('/api/v1/audit?actor=pager&format=ndjson&type=run_status', TOKENS.viewer);
    expect(viaParam.text.trim().split('\n')).toHaveLength(items.length);
    // An export is the whole range: no limit or cursor.
    const bad = await fetch(`${h.main.url}/api/v1/audit?limit=5`, { headers: { authorization: `Bearer ${TOKENS.viewer}`, accept: 'application/x-ndjson' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { details: { path: string }[] }).details[0]!.path).toBe('limit');
  });

  it('verify: ok on the intact log, with a logged checkpoint too; a tampered entry is named', async () => {
    const keys = auditKeys(h.config.redis.prefix);
    const intact = await poll(async () => {
      const r = await verify();
      return r.ok && r.unsealed === 0 ? r : undefined;
    }, 10_000, 'the sealer to catch up');
    expect(intact.status).toBe(200);
    expect(intact.checked).toBeGreaterThan(260);
    expect(intact.firstBad).toBeUndefined();

    const head = await h.main.redis.hgetall(keys.sealed);
    expect(await verify(`?checkpoint=${head.lastId}:${head.lastSeal}`)).toMatchObject({ ok: true });
    expect(await verify(`?checkpoint=${head.lastId}:${'0'.repeat(64)}`)).toMatchObject({ ok: false, firstBad: { id: head.lastId } });
    expect((await verify('?checkpoint=nope')).status).toBe(400);

    // Edit one sealed entry in place (a stream cannot be edited: rebuild it with the same ids, atomically).
    const [target] = (await all({ runId: 'pg-17' })) as [AuditItem];
    const redis = h.main.redis;
    const rows = (await redis.xrange(keys.stream, '-', '+')) as Row[];
    const multi = redis.multi().del(keys.stream);
    for (const [id, fields] of rows) {
      if (id === target.id) {
        const e = JSON.parse(fields[1]!) as { reason: string };
        e.reason = 'nothing to see here';
        fields[1] = JSON.stringify(e);
      }
      multi.xadd(keys.stream, id, ...fields);
    }
    await multi.exec();
    const tampered = await verify();
    expect(tampered).toMatchObject({ status: 200, ok: false, firstBad: { id: target.id, reason: expect.stringMatching(/does not match/) } });
    const ids = rows.map(([id]) => id);
    expect(tampered.checked).toBe(ids.indexOf(target.id));
    // The edited entry reads back as edited: the API shows what is stored; verify is what proves it.
    expect((await all({ runId: 'pg-17' }))[0]).toMatchObject({ reason: 'nothing to see here', sealed: true });
  });
});
