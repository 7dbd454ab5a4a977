/**
 * Issue 17, must-show 1: Redis goes away under load.
 *
 * - Restarted with AOF (`appendfsync always`): every alert answered 200 has its run afterwards, the
 *   runs end, nothing is acted on twice.
 * - Wiped (`FLUSHALL`): episode keys, cooldowns and locks are gone, but every action stamped its
 *   target with `remediator.dev/last-action`, so the same alerts' new episodes arriving within the
 *   rule's cooldown are blocked by the annotation: nothing is acted on twice.
 *
 * Both count what the simulated cluster applied (its own request record), not what Remediator says.
 *
 * A run in flight when Redis is wiped loses its record, job and locks mid-step; its stamp was
 * written before (or with) its action, so the next episode within the cooldown is held even then
 * (the in-flight tests, one per playbook that acts on a workload). The price: a run the wipe
 * stopped between its stamp and its action holds its target for the cooldown without having
 * acted (counted and reported by the second test).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atTestExit, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { startHarness, poll, type Harness } from '../helpers/harness.js';
import { createDeployment } from '../helpers/sim-helpers.js';
import { notification } from '../helpers/alerts.js';
import { testRedisMode } from '../helpers/test-redis.js';
import { isTerminal, type Run } from '../../src/domain/run.js';
import type { SimRequestRecord } from '../../src/sim/sim-server.js';
import { LAST_ACTION_ANNOTATION } from '../../src/engine/run-executor.js';

const NS = 'default';

function rules(cooldown: string): string {
  return `
rules:
  - name: scale-slow
    matchers: ['alertname="LLMHighLatencyP95"']
    playbook: scale-replicas
    params: { maxReplicas: 6, waitForReadySeconds: 0 }
    cooldown: ${cooldown}
  - name: restart-oom
    matchers: ['alertname="KubePodOOMKilled"', 'scenario="restart"']
    playbook: restart-oom-pod
    params: { waitForReadySeconds: 0 }
    cooldown: ${cooldown}
  - name: raise-oom
    matchers: ['alertname="KubePodOOMKilled"', 'scenario="raise"']
    playbook: raise-memory-limit
    params: { maxLimit: 1Gi, timeoutSeconds: 0 }
    cooldown: ${cooldown}
`;
}

function livePods(h: Harness, app: string): string[] {
  return h.sim
    .list('Pod', NS)
    .filter((p) => p.metadata.labels?.['app'] === app && !p.metadata.deletionTimestamp)
    .map((p) => p.metadata.name as string);
}

/**
 * A two-replica Deployment with an OOMKilled pod: the first alert names it; the next (a new
 * episode, within the cooldown) names another OOMKilled pod of the same Deployment, one that is
 * not being replaced (with `newPod`, one the action's rollout created). Both resolve to the Deployment.
 */
async function oomAlerts(h: Harness, name: string, scenario: string, newPod = false): Promise<InFlightAlerts> {
  await createDeployment(h.sim, NS, name, { replicas: 2, memoryLimit: '64Mi' });
  const pods = await poll(async () => (livePods(h, name).length === 2 ? livePods(h, name) : undefined), 10_000, `the pods of ${name}`);
  h.sim.markOOMKilled(NS, pods[0]!, 'c');
  const alert = (pod: string, ago: number) =>
    notification([{ labels: { alertname: 'KubePodOOMKilled', namespace: NS, pod, container: 'c', scenario, severity: 'warning' }, startsAt: new Date(Date.now() - ago).toISOString() }]);
  const next = async () => {
    const pod = newPod ? await poll(async () => livePods(h, name).find((p) => !pods.includes(p)), 3000, `a new pod of ${name}`) : pods[1]!;
    h.sim.markOOMKilled(NS, pod, 'c');
    return alert(pod, 10_000);
  };
  return { first: alert(pods[0]!, 120_000), next };
}

interface InFlightAlerts {
  first: Record<string, unknown>;
  /** Built when it is sent: after the wipe. */
  next: () => Promise<Record<string, unknown>>;
}

/** One-replica CPU Deployments, one per alert of the stream. */
async function createDeployments(h: Harness, names: readonly string[]): Promise<void> {
  for (const name of names) await createDeployment(h.sim, NS, name);
}

function alertFor(name: string, startsAt: string): Record<string, unknown> {
  return notification([{ labels: { alertname: 'LLMHighLatencyP95', namespace: NS, deployment: name, severity: 'warning' }, startsAt }]);
}

/** Applied (2xx, not dry) scale requests per Deployment, from the sim's own record. */
function scalesApplied(h: Harness): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of h.sim.requests) {
    const m = /^\/apis\/apps\/v1\/namespaces\/[^/]+\/deployments\/([^/]+)\/scale$/.exec(r.path);
    if (!m || r.method === 'GET' || r.dryRun || !(r.status >= 200 && r.status < 300)) continue;
    counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
  }
  return counts;
}

function lastAction(h: Harness, name: string): { runId?: string; playbook?: string; time?: string } | undefined {
  const raw = h.sim.get('deployment', NS, name)?.metadata.annotations?.[LAST_ACTION_ANNOTATION];
  return raw ? (JSON.parse(raw) as { runId?: string; playbook?: string; time?: string }) : undefined;
}

interface Delivery {
  name: string;
  /** Every answer, in order: an HTTP status, or 0 for a request that got no HTTP answer. */
  statuses: number[];
  body: { decisions: { decision: string; runId?: string; guard?: string }[] };
  /** When the 200 arrived. */
  at: number;
}

/** Posts until a 200, as Alertmanager does: any non-2xx (or no answer) is retried. */
async function deliver(h: Harness, name: string, body: unknown, onAnswer?: (status: number) => void, deadlineMs = 40_000): Promise<Delivery> {
  const statuses: number[] = [];
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    let status = 0;
    let answer: unknown;
    try {
      const res = await h.post(body);
      status = res.status;
      answer = res.body;
    } catch {
      status = 0;
    }
    statuses.push(status);
    onAnswer?.(status);
    if (status === 200) return { name, statuses, body: answer as Delivery['body'], at: Date.now() };
    if (Date.now() > deadline) throw new Error(`${name}: no 200 within ${deadlineMs} ms (answers ${statuses.join(',')})`);
    // Alertmanager's retry backoff, shortened.
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Launches one delivery every `intervalMs` (a steady stream); `at(i)` runs before the i-th. */
async function stream(names: readonly string[], intervalMs: number, send: (name: string) => Promise<Delivery>, at?: (i: number) => Promise<void> | void): Promise<Delivery[]> {
  const pending: Promise<Delivery>[] = [];
  for (let i = 0; i < names.length; i++) {
    await at?.(i);
    pending.push(send(names[i]!));
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return Promise.all(pending);
}

function runIdsOf(deliveries: readonly Delivery[]): string[] {
  return deliveries.flatMap((d) => d.body.decisions.map((x) => x.runId).filter((id): id is string => typeof id === 'string'));
}

async function allTerminal(h: Harness, ids: readonly string[], timeoutMs: number, allowMissing = false): Promise<Map<string, Run>> {
  return poll(
    async () => {
      const out = new Map<string, Run>();
      for (const id of ids) {
        const run = await h.main.runs.get(id).catch(() => undefined);
        if (!run || !run.status) {
          // Wiped: gone, or rewritten without its status by an attempt that was running.
          if (allowMissing) continue;
          return undefined;
        }
        if (!isTerminal(run.status)) return undefined;
        out.set(id, run);
      }
      return out;
    },
    timeoutMs,
    `${ids.length} runs to end`,
  );
}

describe.skipIf(testRedisMode() === 'cluster')('Redis restarted or wiped under load (issue 17)', () => {
  let h: Harness | undefined;
  let redis: RedisServerHandle | undefined;
  afterEach(async () => {
    await h?.stop();
    await redis?.stop();
    h = undefined;
    redis = undefined;
  });

  it('restarted with AOF (appendfsync always) mid-stream: every alert answered 200 has its run, each run ends, each target is scaled once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'remediator-aof-'));
    atTestExit(() => rmSync(dir, { recursive: true, force: true }));
    // Later arguments win: our own directory, AOF on, every write fsynced before Redis answers.
    redis = await startRedisServer({ args: ['--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always'] });
    h = await startHarness({ redis, rules: rules('1h') });
    const N = 40;
    const names = Array.from({ length: N }, (_, i) => `aof-${i}`);
    await createDeployments(h, names);
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    const marker = `remediator-aof-check-${Date.now()}`;

    let restart: Promise<void> | undefined;
    let stoppedAt = 0;
    let startedAt = 0;
    let refused = 0;
    const send = (name: string): Promise<Delivery> => deliver(h!, name, alertFor(name, startsAt), (status) => (refused += status === 200 ? 0 : 1));
    const t0 = Date.now();
    const deliveries = await stream(names, 60, send, (i) => {
      if (i !== Math.floor(N / 3)) return;
      restart = (async () => {
        await h!.main.redis.set(`${h!.config.redis.prefix}:${marker}`, '1');
        stoppedAt = Date.now();
        await redis!.stop(); // SIGTERM: Redis writes the AOF out and exits
        // Down until the webhook has visibly refused the stream (each 503 is retried by its sender).
        const before = refused;
        await poll(async () => (refused >= before + 20 ? true : undefined), 10_000, 'the stream refused while Redis is down');
        await redis!.start();
        startedAt = Date.now();
      })();
    });
    await restart;
    const streamMs = Date.now() - t0;

    // The AOF kept what was written before the stop.
    expect(await h.main.redis.get(`${h.config.redis.prefix}:${marker}`)).toBe('1');
    const retried = deliveries.filter((d) => d.statuses.length > 1);
    const non200 = deliveries.flatMap((d) => d.statuses.filter((s) => s !== 200));
    // Some of the stream really met the outage and was retried.
    expect(retried.length).toBeGreaterThan(0);
    expect(non200.every((s) => s === 503 || s === 0)).toBe(true);

    // Every 200 named its run, and that run is in Redis now (nothing acknowledged was lost).
    for (const d of deliveries) {
      expect(d.body.decisions, d.name).toHaveLength(1);
      expect(['enqueued', 'duplicate'], `${d.name}: ${JSON.stringify(d.body.decisions[0])}`).toContain(d.body.decisions[0]!.decision);
      expect(d.body.decisions[0]!.runId, d.name).toBeTruthy();
    }
    const ids = runIdsOf(deliveries);
    expect(new Set(ids).size).toBe(N);
    const missing: string[] = [];
    for (const id of ids) if (!(await h.main.runs.get(id))) missing.push(id);
    expect(missing, 'runs answered 200 but absent after the restart').toEqual([]);

    const runs = await allTerminal(h, ids, 45_000);
    const byStatus = new Map<string, number>();
    for (const r of runs.values()) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    // Every run succeeded (the sweeper ends a run only from the status it saw, so one that had just
    // succeeded is never rewritten to failed).
    const summary = (r: Run) => `${r.target}: ${r.status} ${r.reason} (attempts ${r.attempts}, steps ${r.steps.map((s) => `${s.action}:${s.result}@${s.attempt}`).join(' ')}, scales applied ${scalesApplied(h!).get(r.target.split('/')[2]!) ?? 0})`;
    expect([...runs.values()].filter((r) => r.status !== 'succeeded' || !r.changed).map(summary)).toEqual([]);

    // The cluster saw exactly one scale per target, and each ends at 2 replicas.
    const applied = scalesApplied(h);
    expect(names.filter((n) => applied.get(n) !== 1).map((n) => `${n}: ${applied.get(n) ?? 0}`)).toEqual([]);
    for (const n of names) expect(h.sim.get('deployment', NS, n)?.spec?.['replicas'], n).toBe(2);
    // One run per alert: the retries were duplicates of the episode, never second runs.
    const all = await h.main.runs.list({ limit: 1000 });
    const perTarget = new Map<string, number>();
    for (const r of all) perTarget.set(r.target, (perTarget.get(r.target) ?? 0) + 1);
    expect(names.filter((n) => perTarget.get(`deployment/${NS}/${n}`) !== 1)).toEqual([]);

    console.info(
      `[redis-restart] ${N} alerts in ${streamMs} ms; Redis down ${startedAt - stoppedAt} ms; ${retried.length} alerts retried, ${non200.length} non-200 answers (${non200.filter((s) => s === 503).length}×503, ${non200.filter((s) => s === 0).length}×no answer); runs ${JSON.stringify(Object.fromEntries(byStatus))}; scales applied ${[...applied.values()].reduce((a, b) => a + b, 0)}`,
    );
  }, 90_000);

  it('wiped (FLUSHALL) mid-stream: the same alerts\' new episodes within the cooldown are blocked by the last-action annotation; a target stamped before the wipe is not scaled again', async () => {
    redis = await startRedisServer();
    h = await startHarness({ redis, rules: rules('1h') });
    const N = 30;
    const names = Array.from({ length: N }, (_, i) => `wipe-${i}`);
    await createDeployments(h, names);
    const wave1 = new Date(Date.now() - 120_000).toISOString();
    const wave2 = new Date(Date.now() - 10_000).toISOString();
    const admin = h.testRedis.client();
    try {
      const flushAt = Math.floor(N / 2);
      let stampedAtFlush: string[] = [];
      const t0 = Date.now();
      const first = await stream(names, 60, (n) => deliver(h!, n, alertFor(n, wave1)), async (i) => {
        if (i !== flushAt) return;
        // Mid-stream, once a third of the targets were acted on and stamped; runs of the others are queued or running.
        await poll(async () => (names.filter((n) => lastAction(h!, n) !== undefined).length >= N / 3 ? true : undefined), 20_000, 'a third of the targets stamped');
        stampedAtFlush = names.filter((n) => lastAction(h!, n) !== undefined);
        expect(await admin.flushall()).toBe('OK');
      });
      expect(first.every((d) => d.statuses.at(-1) === 200)).toBe(true);
      // Alerts first posted after the wipe: Redis saw all of their history.
      const afterWipe = names.slice(flushAt);
      // Posted before the wipe and not yet stamped when it came: their runs were queued (lost with
      // their jobs) or in flight (see also the next tests).
      const inFlight = names.slice(0, flushAt).filter((n) => !stampedAtFlush.includes(n));

      // The first wave settles: every run still on record ends. A record the wipe took is gone, or
      // (an attempt that was running rewrote its document) left without a status: counted.
      const firstIds = runIdsOf(first);
      await allTerminal(h, firstIds, 45_000, true);
      let statusless = 0;
      for (const id of firstIds) {
        const run = await h.main.runs.get(id);
        if (run && !run.status) statusless++;
      }
      const appliedAfterFirst = scalesApplied(h);

      // The same alerts fire again (a new episode each), and Alertmanager repeats the old ones (their
      // episode keys went with the wipe), all within the hour's cooldown.
      let k = 0;
      const second = await stream(names.flatMap((n) => [n, n]), 30, (n) => deliver(h!, n, alertFor(n, k++ % 2 === 0 ? wave2 : wave1)));
      const secondIds = runIdsOf(second).filter((id) => !firstIds.includes(id));
      const secondRuns = await allTerminal(h, secondIds, 45_000);
      const streamMs = Date.now() - t0;

      const applied = scalesApplied(h);
      // Nothing was scaled twice within the cooldown: neither a target stamped before the wipe nor
      // one whose run was queued or in flight when it came.
      expect(names.filter((n) => (applied.get(n) ?? 0) > 1).map((n) => `${n}: ${applied.get(n)}`)).toEqual([]);
      // The stamp goes before the scale: a run the wipe stopped between the two leaves a stamp
      // without a scale, and its target is held for the cooldown (never acting twice wins over
      // acting at all). Only such a target may be left unscaled; every other was acted on (the
      // wipe lost queued runs; their alerts' repeats acted).
      const heldUnscaled = names.filter((n) => (applied.get(n) ?? 0) === 0);
      for (const n of heldUnscaled) expect(lastAction(h, n)?.runId, `${n} unscaled`).toSatisfy((id: string | undefined) => id !== undefined && firstIds.includes(id));
      // Stamped before the wipe: Redis forgot their cooldowns; the annotation alone held them. Each
      // of their new runs was blocked by it.
      let blockedByAnnotation = 0;
      for (const n of stampedAtFlush) {
        const runs = [...secondRuns.values()].filter((r) => r.target === `deployment/${NS}/${n}`);
        expect(runs.length, n).toBeGreaterThan(0);
        for (const r of runs) {
          expect(`${r.status} ${r.guard?.guard}`, `${n}: ${r.reason}`).toBe('blocked cooldown');
          expect(r.reason).toContain(LAST_ACTION_ANNOTATION);
          blockedByAnnotation++;
        }
      }
      // First posted after the wipe: acted on once, the rest blocked (by Redis or the annotation).
      expect(afterWipe.filter((n) => applied.get(n) !== 1).map((n) => `${n}: ${applied.get(n)}`)).toEqual([]);
      expect(heldUnscaled.filter((n) => afterWipe.includes(n))).toEqual([]);
      for (const r of secondRuns.values()) {
        if (afterWipe.some((n) => r.target === `deployment/${NS}/${n}`)) expect(`${r.status} ${r.guard?.guard}`, `${r.target}: ${r.reason}`).toBe('blocked cooldown');
      }
      const blockedAtIntake = second.flatMap((d) => d.body.decisions).filter((d) => d.decision === 'blocked').length;

      console.info(
        `[redis-wipe] ${N} targets; FLUSHALL before alert ${flushAt} with ${stampedAtFlush.length} stamped, ${inFlight.length} queued or in flight (${inFlight.filter((n) => (appliedAfterFirst.get(n) ?? 0) > 0).length} of those scaled in the first wave); ${heldUnscaled.length} held unscaled by a stamp whose run the wipe stopped before its scale: ${heldUnscaled.join(' ') || '-'}; ${statusless} run records without a status left by the wipe; second wave ${second.length} notifications: ${blockedByAnnotation} runs blocked by the annotation, ${blockedAtIntake} blocked at intake; scales applied ${[...applied.values()].reduce((a, b) => a + b, 0)}; ${Date.now() - t0} ms (stream ${streamMs} ms)`,
      );
    } finally {
      admin.disconnect();
    }
  }, 90_000);

  // A run in flight when Redis is wiped loses its record, its job and its locks: whatever it did
  // last must already carry the stamp, or the next episode within the cooldown acts again.
  // scale-replicas and restart-oom-pod stamp before their request, raise-memory-limit in the same
  // patch (drain-gpu-node: in the cordon's patch). The wipe comes right after the server applied
  // the action, before its answer reaches the worker.
  const inFlightCases = [
    {
      playbook: 'scale-replicas',
      action: (r: SimRequestRecord) => r.method === 'PATCH' && r.path === `/apis/apps/v1/namespaces/${NS}/deployments/inflight-0/scale`,
      setup: async (h: Harness) => {
        await createDeployment(h.sim, NS, 'inflight-0');
        const next = async () => alertFor('inflight-0', new Date(Date.now() - 10_000).toISOString());
        return { first: alertFor('inflight-0', new Date(Date.now() - 120_000).toISOString()), next };
      },
    },
    {
      playbook: 'restart-oom-pod',
      action: (r: SimRequestRecord) => r.method === 'POST' && /^\/api\/v1\/namespaces\/default\/pods\/inflight-1-[^/]+\/eviction$/.test(r.path),
      setup: async (h: Harness) => oomAlerts(h, 'inflight-1', 'restart'),
    },
    {
      playbook: 'raise-memory-limit',
      action: (r: SimRequestRecord) => r.method === 'PATCH' && r.path === `/apis/apps/v1/namespaces/${NS}/deployments/inflight-2`,
      setup: async (h: Harness) => oomAlerts(h, 'inflight-2', 'raise', true),
    },
  ] as const;

  for (const c of inFlightCases) {
    it(`${c.playbook}: wiped right after the action was applied, before its answer: the next episode within the cooldown does not act again`, async () => {
      redis = await startRedisServer();
      h = await startHarness({ redis, rules: rules('1h') });
      const { first, next } = await c.setup(h);
      const admin = h.testRedis.client();
      try {
        let secondRun: string | undefined;
        let held = false;
        h.sim.injectFault({
          match: c.action,
          answer: 'normal',
          times: 1,
          afterApply: async () => {
            held = true;
            await admin.flushall();
            const d = await deliver(h!, c.playbook, await next());
            secondRun = d.body.decisions[0]?.runId;
            // Hold the answer (within the client's 5 s timeout) until the new episode's run has ended.
            if (secondRun) {
              await poll(async () => {
                const r = await h!.main.runs.get(secondRun!);
                return r?.status && isTerminal(r.status) ? true : undefined;
              }, 4000, "the new episode's run").catch(() => undefined);
            }
          },
        });
        const d1 = await deliver(h, c.playbook, first);
        expect(d1.body.decisions[0]?.decision).toBe('enqueued');
        await poll(async () => (held && secondRun ? true : undefined), 20_000, 'the wipe and the new episode');
        const run = await h.waitRun(secondRun!, undefined, 20_000);
        // The held answer goes out once the hook returns; its record then has its status.
        const actions = (r: SimRequestRecord) => c.action(r) || (c.playbook === 'restart-oom-pod' && r.method === 'POST' && r.path.endsWith('/eviction'));
        await poll(async () => (h!.sim.requests.some((r) => actions(r) && r.status > 0) ? true : undefined), 10_000, 'the held answer');
        const applied = h.sim.requests.filter((r) => actions(r) && !r.dryRun && r.status >= 200 && r.status < 300).length;
        console.info(`[redis-wipe-inflight] ${c.playbook}: new episode's run ${run.status} (${run.reason}); actions applied: ${applied}`);
        expect(applied).toBe(1);
        expect(`${run.status} ${run.guard?.guard}`).toBe('blocked cooldown');
        expect(run.reason).toContain(LAST_ACTION_ANNOTATION);
      } finally {
        admin.disconnect();
      }
    }, 60_000);
  }
});
