/**
 * The NDJSON export of GET /api/v1/audit over 100k entries: streamed page by page with flat
 * memory in the server (which runs in this process), oldest first, and throttled by the
 * client: a reader that stops reading stops the server's reads from Redis.
 */
import { execFile } from 'node:child_process';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, poll, TOKENS, type Harness } from '../helpers/harness.js';
import { auditKeys } from '../../src/audit/audit-keys.js';
import type { AuditPage } from '../../src/audit/audit-query.js';
import { compareStreamIds } from '../../src/audit/stream-id.js';

const N = 100_000;

// A full collection before each baseline, so garbage left by setting up (100k appends, 100k seals)
// is not counted against the export.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
setFlagsFromString('--no-expose-gc');
const MB = 1024 * 1024;

function bulkEntry(i: number, at: string): string {
  return JSON.stringify({
    type: 'kube_mutation',
    at,
    actor: 'bulk',
    runId: `bulk-run-${i >> 4}`,
    target: 'node/gpu-node-7',
    playbook: 'drain-gpu-node',
    rule: 'drain-overheated-gpu-nodes',
    action: 'evict',
    object: `pod/ml-serving/llm-api-${i}`,
    method: 'POST',
    path: `/api/v1/namespaces/ml-serving/pods/llm-api-${i}/eviction`,
    dryRun: false,
    result: 'ok',
  });
}

/** Reads the export over HTTP and reports what it got (line count, byte count, id order) as JSON. */
const READER = `
import { get } from 'node:http';
const res = await new Promise((resolve, reject) => get(process.env.AUDIT_URL, { headers: { authorization: 'Bearer ' + process.env.AUDIT_TOKEN, accept: 'application/x-ndjson' } }, resolve).on('error', reject));
let lines = 0, bytes = 0, sealed = 0, ordered = true, first = null, prev = -1n, last = null, tail = '';
const key = (id) => { const [ms, seq] = id.split('-'); return (BigInt(ms) << 64n) + BigInt(seq); };
res.setEncoding('utf8');
for await (const chunk of res) {
  bytes += Buffer.byteLength(chunk);
  const parts = (tail + chunk).split('\\n');
  tail = parts.pop();
  for (const line of parts) {
    const id = /^\\{"id":"(\\d+-\\d+)"/.exec(line)?.[1] ?? '0-0';
    first ??= id;
    const k = key(id);
    if (k <= prev) ordered = false;
    prev = k;
    last = id;
    if (line.endsWith('"sealed":true}')) sealed++;
    lines++;
  }
}
process.stdout.write(JSON.stringify({ status: res.statusCode, order: res.headers['x-audit-order'] ?? null, lines, bytes, ordered, first, last, sealed, tail: tail.length }));
`;

async function xrangeCalls(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  return Number(/cmdstat_xrange:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

describe('audit NDJSON export of 100k entries', () => {
  let h: Harness;
  let redis: Redis;
  let lastId: string;
  let firstId: string;
  const rss = () => process.memoryUsage().rss;
  const live = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  };

  beforeAll(async () => {
    h = await startHarness();
    redis = new Redis(h.redis.url);
    const { stream, sealed } = auditKeys(h.config.redis.prefix);
    // One rare entry at the oldest end, then 100k bulk entries in pipelined batches.
    await redis.xadd(stream, '*', 'e', JSON.stringify({ type: 'operator_action', at: new Date().toISOString(), actor: 'rare', action: 'pause', reason: 'oldest', scope: 'global' }));
    const at = new Date().toISOString();
    for (let i = 0; i < N; i += 5000) {
      const pipe = redis.pipeline();
      for (let k = i; k < i + 5000; k++) pipe.xadd(stream, '*', 'e', bulkEntry(k, at));
      const results = (await pipe.exec())!;
      if (i === 0) firstId = String(results[0]![1]);
      lastId = String(results[results.length - 1]![1]);
    }
    // Let the sealer chain everything first, so its work does not blur the measurements.
    await poll(async () => ((await redis.hget(sealed, 'lastId')) === lastId ? true : undefined), 45_000, 'the sealer to chain 100k entries');
  }, 60_000);
  afterAll(async () => {
    redis?.disconnect();
    await h?.stop();
  });

  it('streams all 100k lines oldest first while server memory stays flat', async () => {
    // The reader runs in a child process, so this process's memory is the server's alone.
    gc();
    const baseline = rss();
    const liveBaseline = live();
    let peak = baseline;
    let livePeak = liveBaseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rss());
    }, 20);
    // rss keeps freed pages, which can hide growth; memory still reachable after a full
    // collection cannot hide: it would hold every page read if the export were not streamed.
    const liveSampler = setInterval(() => {
      gc();
      livePeak = Math.max(livePeak, live());
    }, 500);
    const started = Date.now();
    const result = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', READER], { env: { AUDIT_URL: `${h.main.url}/api/v1/audit?actor=bulk`, AUDIT_TOKEN: TOKENS.viewer }, timeout: 50_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      );
    });
    clearInterval(sampler);
    clearInterval(liveSampler);
    peak = Math.max(peak, rss());
    const r = JSON.parse(result) as { status: number; order: string | null; lines: number; bytes: number; ordered: boolean; first: string; last: string; sealed: number; tail: number };
    const growth = peak - baseline;
    console.log(`export: ${r.lines} lines, ${(r.bytes / MB).toFixed(1)} MB in ${Date.now() - started} ms; server rss ${(baseline / MB).toFixed(0)} MB → peak ${(peak / MB).toFixed(0)} MB (growth ${(growth / MB).toFixed(1)} MB); live after GC +${((livePeak - liveBaseline) / MB).toFixed(1)} MB`);
    expect(r.status).toBe(200);
    expect(r.order).toBe('oldest-first');
    expect(r.tail).toBe(0);
    expect(r.lines).toBe(N);
    expect(r.ordered).toBe(true);
    expect(r.first).toBe(firstId);
    expect(r.last).toBe(lastId);
    expect(r.sealed).toBe(N);
    expect(r.bytes).toBeGreaterThan(20 * MB);
    expect(growth).toBeLessThan(50 * MB);
    expect(livePeak - liveBaseline).toBeLessThan(10 * MB);
  });

  it('a client that stops reading stops the server reading Redis (backpressure), and resuming finishes the export', async () => {
    const before = await xrangeCalls(redis);
    gc();
    const baseline = rss();
    const url = new URL(`${h.main.url}/api/v1/audit?actor=bulk`);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      httpGet(url, { headers: { authorization: `Bearer ${TOKENS.viewer}`, accept: 'application/x-ndjson' } }, resolve).on('error', reject);
    });
    res.pause();
    expect(res.statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 1500));
    const whilePaused = (await xrangeCalls(redis)) - before;
    const pausedGrowth = rss() - baseline;
    // The export needs 101 pages of 1000; a stalled reader holds it to what the socket buffers take.
    console.log(`backpressure: ${whilePaused} XRANGE calls (export pages + idle sealer ticks) while the reader was paused 1.5 s; rss growth ${(pausedGrowth / MB).toFixed(1)} MB`);
    expect(whilePaused).toBeLessThan(60);
    let lines = 0;
    await new Promise<void>((resolve, reject) => {
      res.on('data', (chunk: Buffer) => {
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
      });
      res.on('end', resolve);
      res.on('error', reject);
      res.resume();
    });
    expect(lines).toBe(N);
  });

  it('a client that goes away midway ends the export: the server stops reading', async () => {
    const url = new URL(`${h.main.url}/api/v1/audit?actor=bulk`);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      httpGet(url, { headers: { authorization: `Bearer ${TOKENS.viewer}`, accept: 'application/x-ndjson' } }, resolve).on('error', reject);
    });
    await new Promise<void>((resolve) => res.once('data', () => resolve()));
    res.destroy();
    await new Promise((r) => setTimeout(r, 300));
    const before = await xrangeCalls(redis);
    await new Promise((r) => setTimeout(r, 1000));
    // Only the idle sealer's ticks (every 200 ms) remain.
    expect((await xrangeCalls(redis)) - before).toBeLessThan(10);
    expect((await h.get('/api/v1/audit?limit=1', TOKENS.viewer)).status).toBe(200);
  });

  it('a rare filter over a long log answers in bounded pages; the cursor leads to the match', async () => {
    const pages: AuditPage[] = [];
    let cursor: string | null = null;
    do {
      const res = await h.get(`/api/v1/audit?actor=rare&limit=10${cursor ? `&cursor=${cursor}` : ''}`, TOKENS.viewer);
      expect(res.status).toBe(200);
      pages.push(res.body as AuditPage);
      cursor = (res.body as AuditPage).nextCursor;
    } while (cursor && pages.length < 20);
    // 100k entries above it, 20k scanned per request: a few empty pages with a cursor first.
    expect(pages.length).toBeGreaterThan(1);
    expect(pages[0]!.items).toEqual([]);
    expect(pages[0]!.nextCursor).toEqual(expect.any(String));
    expect(pages.flatMap((p) => p.items)).toMatchObject([{ actor: 'rare', action: 'pause', reason: 'oldest' }]);
    expect(pages.at(-1)!.nextCursor).toBeNull();
  });
});
