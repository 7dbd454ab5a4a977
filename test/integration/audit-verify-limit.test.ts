import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poll, startHarness, TOKENS, type Harness } from '../helpers/harness.js';
import { auditKeys } from '../../src/audit/audit-keys.js';

/** A full-chain verify is costly: a viewer cannot start several at once (429 with Retry-After). */
describe('GET /api/v1/audit/verify is bounded per viewer', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
    const { stream } = auditKeys(h.config.redis.prefix);
    const multi = h.main.redis.multi();
    for (let i = 0; i < 20_000; i++) multi.xadd(stream, '*', 'e', JSON.stringify({ type: 'run_status', at: new Date().toISOString(), actor: 'worker', runId: `r-${i}`, from: 'queued', to: 'running' }));
    await multi.exec();
    await poll(async () => ((await h.main.redis.xlen(stream)) === (await h.main.redis.hlen(auditKeys(h.config.redis.prefix).seals)) ? true : undefined), 30_000, 'the sealer to seal everything');
  }, 60_000);

  afterAll(() => h?.stop());

  it('a second verify from the same viewer while one runs gets 429 with Retry-After; the first answers', async () => {
    const call = () => fetch(`${h.main.url}/api/v1/audit/verify?full=true`, { headers: { authorization: `Bearer ${TOKENS.viewer}` } });
    const answers = await Promise.all([call(), call(), call()]);
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    for (const r of answers.filter((a) => a.status === 429)) {
      expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await r.json()).toMatchObject({ error: 'too_many_requests' });
    }
    const ok = answers.find((a) => a.status === 200)!;
    expect(await ok.json()).toMatchObject({ ok: true });
    // Once it has answered, the viewer may verify again.
    expect((await call()).status).toBe(200);
  });

  it('the API verifies from the cached checkpoint by default; full=true recomputes every seal', async () => {
    const get = async (query = '') => (await (await fetch(`${h.main.url}/api/v1/audit/verify${query}`, { headers: { authorization: `Bearer ${TOKENS.viewer}` } })).json()) as { ok: boolean; checked: number; unchangedThrough?: { entries: number }; range?: { from: string; to: string } };
    await get();
    const cached = await get();
    expect(cached.ok).toBe(true);
    expect(cached.unchangedThrough!.entries).toBeGreaterThanOrEqual(20_000);
    expect(cached.checked).toBeLessThan(100);
    const full = await get('?full=true');
    expect(full).toMatchObject({ ok: true, range: expect.objectContaining({ from: expect.any(String), to: expect.any(String) }) });
    expect(full.checked).toBeGreaterThanOrEqual(20_000);
    expect(full.unchangedThrough).toBeUndefined();
    expect((await fetch(`${h.main.url}/api/v1/audit/verify?full=maybe`, { headers: { authorization: `Bearer ${TOKENS.viewer}` } })).status).toBe(400);
  });
});
