/**
 * The alert inbox (issue 13, part 1): every episode the webhook sees gets a record, written in the
 * intake's one round trip — unmatched and invalid alerts too, with their reason and the first
 * decision in the audit log; repeats are counted in memory and flushed in batches (checked with
 * `INFO commandstats`); the inbox stays bounded under a storm; `GET /api/v1/alerts` filters and pages.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notification } from '../helpers/alerts.js';
import { poll, startHarness, TOKENS, type Harness } from '../helpers/harness.js';
import { AlertInbox } from '../../src/engine/alert-inbox.js';
import { INBOX_MAX_AGE_MS } from '../../src/engine/intake-script.js';
import { RedisKeys } from '../../src/engine/redis-keys.js';

let h: Harness;
let client: Redis;
let tag: string;

const inbox = async (query = '') => {
  const res = await h.get(`/api/v1/alerts${query}`, TOKENS.viewer);
  expect(res.status, res.text).toBe(200);
  return res.body as { items: any[]; nextCursor: string | null };
};

async function commandstats(): Promise<Map<string, number>> {
  const text = await client.info('commandstats');
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

function delta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [cmd, n] of after) if (n - (before.get(cmd) ?? 0) > 0) out[cmd] = n - (before.get(cmd) ?? 0);
  return out;
}

beforeAll(async () => {
  h = await startHarness();
  client = new Redis(h.redis.url);
  tag = `{${h.config.redis.prefix}}`;
}, 60_000);

afterAll(async () => {
  await client?.quit();
  await h?.stop();
});

describe('the alert inbox', () => {
  it('records an unmatched and an invalid alert with their reasons and summary, and audits the first decision once', async () => {
    const body = notification([
      { labels: { alertname: 'NodeDiskFull', node: 'cpu-node-1' }, annotations: { summary: 'disk 97% full on cpu-node-1' }, generatorURL: 'http://prometheus/graph?g0=disk' },
      { labels: { alertname: 'LLMHighLatencyP95', namespace: 'ml-serving', pod: 'llm-api-0', severity: 'warning' }, annotations: { summary: 'p95 4s on llm-api-0' } },
    ]);
    const res = await h.post(body);
    expect(res.body.decisions.map((d: { decision: string }) => d.decision)).toEqual(['unmatched', 'invalid_params']);

    const unmatched = (await inbox('?alertname=NodeDiskFull')).items;
    expect(unmatched).toHaveLength(1);
    expect(unmatched[0]).toMatchObject({
      rule: 'none', decision: 'unmatched', status: 'firing', seen: 1, reason: "no rule matches the alert's labels",
      labels: { alertname: 'NodeDiskFull', node: 'cpu-node-1' }, annotations: { summary: 'disk 97% full on cpu-node-1' }, generatorURL: 'http://prometheus/graph?g0=disk',
    });
    const invalid = (await inbox('?decision=invalid_params')).items;
    expect(invalid).toHaveLength(1);
    expect(invalid[0]).toMatchObject({ rule: 'scale-slow-llm', decision: 'invalid_params', annotations: { summary: 'p95 4s on llm-api-0' } });
    expect(invalid[0].reason).toEqual(res.body.decisions[1].reason);
    expect(invalid[0].reason.length).toBeGreaterThan(10);

    // Sent again: one more `seen` each, no second audit entry.
    await h.post(body);
    const audit = async () => (await h.get('/api/v1/audit?type=alert_decision', TOKENS.viewer)).body.items as any[];
    await poll(async () => ((await inbox('?alertname=NodeDiskFull')).items[0].seen === 2 ? true : undefined), 5000, 'seen 2');
    const entries = await audit();
    expect(entries.map((e) => e.decision).sort()).toEqual(['invalid_params', 'unmatched']);
    expect(entries.find((e) => e.decision === 'unmatched')).toMatchObject({ type: 'alert_decision', actor: 'alertmanager', rule: 'none', alertname: 'NodeDiskFull', reason: "no rule matches the alert's labels" });
  });

  it('counts 50 repeats of a notification (seen 51) without an inbox write per repeat on the request path', async () => {
    const body = notification([{ labels: { alertname: 'LLMHighLatencyP95', namespace: 'ml-serving', deployment: 'embedding-service', severity: 'warning' }, startsAt: '2026-12-07T11:00:00.000Z' }]);
    const first = await h.post(body);
    expect(first.body.decisions[0].decision).toBe('enqueued');
    await h.waitRun(first.body.decisions[0].runId);
    await new Promise((r) => setTimeout(r, 1200));

    const before = await commandstats();
    for (let i = 0; i < 50; i += 1) {
      const res = await h.post(body);
      expect(res.body.decisions[0].decision).toBe('duplicate');
    }
    const requests = delta(before, await commandstats());
    const item = await poll(async () => {
      const found = (await inbox('?rule=scale-slow-llm&alertname=LLMHighLatencyP95')).items.find((i) => i.startsAt === '2026-12-07T11:00:00.000Z');
      return found?.seen === 51 ? found : undefined;
    }, 5000, 'seen 51');
    const withFlush = delta(before, await commandstats());
    console.log(`50 duplicates: commands during the requests ${JSON.stringify(requests)}; with the flush and the reads ${JSON.stringify(withFlush)}`);
    expect(item).toMatchObject({ decision: 'enqueued', seen: 51 });
    expect(item.lastSeenAt > item.firstSeenAt).toBe(true);
    // The run says the same: how often its episode was sent, and when last.
    const run = await h.get(`/api/v1/runs/${first.body.decisions[0].runId}`, TOKENS.viewer);
    expect(run.body).toMatchObject({ seen: 51, lastSeenAt: item.lastSeenAt });
    // The hot path writes nothing per duplicate: the counter is written by at most a few batched flushes.
    for (const cmd of ['hincrby', 'hset', 'zadd', 'xadd', 'expire']) expect(requests[cmd] ?? 0, cmd).toBeLessThan(10);
    expect(withFlush.hincrby ?? 0).toBeLessThan(10);

    // Unmatched repeats: counted in memory alone (this process wrote the record).
    const lonely = notification([{ labels: { alertname: 'Lonely', node: 'cpu-node-2' }, annotations: { summary: 'nobody handles this' } }]);
    await h.post(lonely);
    const before2 = await commandstats();
    for (let i = 0; i < 50; i += 1) await h.post(lonely);
    const unmatchedRequests = delta(before2, await commandstats());
    console.log(`50 unmatched repeats: commands during the requests ${JSON.stringify(unmatchedRequests)}`);
    expect(unmatchedRequests.evalsha ?? 0).toBeLessThan(10);
    await poll(async () => ((await inbox('?alertname=Lonely')).items[0]?.seen === 51 ? true : undefined), 5000, 'unmatched seen 51');
  }, 60_000);

  it('filters and pages with a cursor that stays valid while new alerts arrive', async () => {
    const alerts = Array.from({ length: 30 }, (_, i) => ({ labels: { alertname: `Paging${i % 3}`, node: `node-${i}` }, annotations: { summary: `paging ${i}` } }));
    await h.post(notification(alerts.slice(0, 15)));
    await h.post(notification(alerts.slice(15)));
    const all = (await inbox('?limit=500&rule=none')).items.filter((i) => i.alertname.startsWith('Paging'));
    expect(all).toHaveLength(30);
    // Newest first.
    expect(all.slice(0, 15).every((i) => Number(i.labels.node.slice(5)) >= 15)).toBe(true);

    const paged: any[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { items: any[]; nextCursor: string | null } = await inbox(`?limit=4&alertname=Paging1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      paged.push(...page.items);
      cursor = page.nextCursor;
      pages += 1;
      // New records arriving meanwhile sort before the cursor: no repeats, no gaps.
      if (pages === 1) await h.post(notification([{ labels: { alertname: 'Paging1', node: 'late' } }]));
    } while (cursor);
    expect(pages).toBe(3);
    expect(paged.map((i) => i.labels.node)).toEqual(all.filter((i) => i.alertname === 'Paging1').map((i) => i.labels.node));
    expect((await inbox('?alertname=Paging1&limit=500')).items).toHaveLength(11);

    expect((await inbox(`?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).items).toEqual([]);
    expect((await inbox('?since=1h&decision=unmatched&limit=500')).items.length).toBeGreaterThanOrEqual(32);
    expect((await h.get('/api/v1/alerts?decision=bogus', TOKENS.viewer)).status).toBe(400);
    expect((await h.get('/api/v1/alerts?limit=0', TOKENS.viewer)).status).toBe(400);
  });

  it('trims to the bound exactly when several trims run at once, oldest first, the too-old ones too', async () => {
    const keys = new RedisKeys('trim-race');
    const inbox = new AlertInbox(client, keys);
    const now = Date.now();
    const pipeline = client.pipeline();
    for (let i = 0; i < 2500; i++) {
      // Episodes 0..99 are older than the age bound; the rest are recent, oldest first.
      const score = i < 100 ? now - INBOX_MAX_AGE_MS - 1000 + i : now - 100_000 + i;
      pipeline.zadd(keys.inbox, score, `ep-${i}`).hset(keys.inboxRecord(`ep-${i}`), 'seen', '1');
    }
    await pipeline.exec();
    const dropped = await Promise.all([inbox.trim(now, 1000), inbox.trim(now, 1000), inbox.trim(now, 1000)]);
    expect(dropped.reduce((a, b) => a + b, 0)).toBe(1500);
    expect(await client.zcard(keys.inbox)).toBe(1000);
    expect(await client.zrange(keys.inbox, 0, 0)).toEqual(['ep-1500']);
    expect(await client.exists(keys.inboxRecord('ep-1499'), keys.inboxRecord('ep-1500'))).toBe(1);
  });

  it('stays bounded (10,000 records once the sweeper trimmed) under a 20,000-episode storm', async () => {
    const started = Date.now();
    const PER = 500;
    for (let n = 0; n < 20_000; n += PER) {
      const res = await h.post(notification(Array.from({ length: PER }, (_, i) => ({ labels: { alertname: 'Storm', node: `storm-${n + i}` } }))));
      expect(res.status).toBe(200);
    }
    const ms = Date.now() - started;
    // The sweeper trims the inbox (the intake script only adds): within a few sweeps it is back to the bound.
    const indexed = await poll(async () => {
      const n = await client.zcard(`${tag}:inbox`);
      return n <= 10_000 ? n : undefined;
    }, 30_000, 'the sweeper trimmed the inbox to 10,000');
    let records = 0;
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${tag}:inbox:*`, 'COUNT', 5000);
      cursor = next;
      records += keys.length;
    } while (cursor !== '0');
    console.log(`storm: 20,000 episodes in ${20_000 / PER} notifications in ${ms} ms; index ${indexed}, records ${records}`);
    expect(indexed).toBe(10_000);
    expect(records).toBe(10_000);
    const ttl = await client.ttl(`${tag}:inbox:${(await client.zrange(`${tag}:inbox`, -1, -1))[0]}`);
    expect(ttl).toBeGreaterThan(6 * 86400);
    const newest = (await inbox('?limit=1')).items[0];
    expect(newest.labels.node).toMatch(/^storm-/);
  }, 120_000);
});
