import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, poll, startHarness, type Harness } from '../helpers/harness.js';
import { metricValue } from '../helpers/metrics-text.js';

/** `remediator_audit_unsealed_entries` (docs/metrics.md): entries no sealer has chained yet. */
describe('remediator_audit_unsealed_entries', () => {
  let h: Harness;

  beforeAll(async () => {
    // An api process alone runs no sealer: what it writes stays unsealed until a worker comes.
    h = await startHarness({ roles: ['api'] });
  });

  afterAll(() => h?.stop());

  const unsealed = async (to = h.main) => metricValue((await h.get('/metrics', undefined, to)).text, 'remediator_audit_unsealed_entries');

  it('counts entries waiting for the sealer, and falls to 0 once one runs', async () => {
    expect(await unsealed()).toBe(0);
    expect((await h.post(fixture('firing-llm-high-latency-p95').body)).status).toBe(200);
    const waiting = await poll(async () => {
      const n = await unsealed();
      return n !== undefined && n > 0 ? n : undefined;
    }, 5000, 'unsealed entries counted');
    expect(waiting).toBeGreaterThan(0);

    const worker = await h.startProcess('worker');
    await poll(async () => ((await unsealed(worker)) === 0 ? true : undefined), 10_000, 'the sealer to catch up');
  });
});
