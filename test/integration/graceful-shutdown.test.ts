/**
 * Issue 17, must-show 2: graceful shutdown under load. A real `remediator serve` process gets
 * SIGTERM while notifications stream in and two playbook steps are in flight (scales waiting for
 * their rollout: one becomes ready within the grace period, one does not). Checked:
 * - every request in flight when SIGTERM arrived got a complete HTTP answer (200, or 503);
 *   requests sent after it get 503 (`Connection: close`), not a refused connection, and
 *   /readyz fails while /healthz still answers;
 * - every alert answered 200 is in Redis (its run record);
 * - the process exits 0 within `shutdownGraceSeconds`;
 * - the step that could finish did; the other run is left resumable, and a second process started
 *   afterwards finishes it without scaling again; every alert the first process refused is
 *   accepted by the second, and every target is scaled exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { atTestExit } from '../helpers/redis-server.js';
import { startTestRedis, type TestRedis } from '../helpers/test-redis.js';
import { spawnServe, waitWorkerReady, type WorkerProcess } from '../helpers/worker-processes.js';
import { startSimCluster, type SimCluster } from '../../src/sim/sim-cluster.js';
import { simKubeconfigYaml } from '../../src/sim/sim-kubeconfig.js';
import { poll, TOKENS } from '../helpers/harness.js';
import { createDeployment as createSimDeployment } from '../helpers/sim-helpers.js';
import { notification } from '../helpers/alerts.js';
import { RunStore } from '../../src/engine/run-store.js';
import { RedisKeys } from '../../src/engine/redis-keys.js';
import { isTerminal, type Run } from '../../src/domain/run.js';

const NS = 'default';
const GRACE_S = 7;
/** Between the process's exit and the test seeing its `exit` event. */
const EXIT_SEEN_SLACK_MS = 300;
/** Ready within the grace period after its scale, and long after it. */
const SHORT_READY_MS = 3000;
const LONG_READY_MS = 12_000;
const FAST = 24;
/** Each of the four senders' pause between its notifications. */
const PACE_MS = Number(process.env.GS_PACE_MS ?? 10);

interface Sent {
  name: string;
  startedAt: number;
  endedAt?: number;
  /** HTTP status, or the client error's code when no HTTP answer came. */
  outcome?: number | string;
  runId?: string;
}

function alert(alertname: string, name: string): string {
  return JSON.stringify(notification([{ labels: { alertname, namespace: NS, deployment: name, severity: 'warning' }, startsAt: '2026-12-01T10:00:00.000Z' }]));
}

function createDeployment(sim: SimCluster, name: string, replicas: number, readyDelayMs?: number): Promise<void> {
  return createSimDeployment(sim, NS, name, { replicas, ...(readyDelayMs !== undefined ? { readyDelayMs } : {}) });
}

function scalesApplied(sim: SimCluster, name: string): number {
  return sim.requests.filter((r) => r.method === 'PATCH' && r.path === `/apis/apps/v1/namespaces/${NS}/deployments/${name}/scale` && !r.dryRun && r.status >= 200 && r.status < 300).length;
}

/** POST with fetch (keep-alive, as Alertmanager's client); records the outcome. */
async function post(port: number, body: string, sent: Sent): Promise<Sent> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/alerts`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.alertmanager}` }, body });
    const text = await res.text();
    sent.outcome = res.status;
    if (res.status === 200) sent.runId = (JSON.parse(text) as { decisions: { runId?: string }[] }).decisions[0]?.runId;
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    sent.outcome = cause?.code ?? cause?.message ?? String(err);
  }
  sent.endedAt = Date.now();
  return sent;
}

/**
 * The server side of the loopback connection from `clientPort` to `serverPort` has been accepted
 * and has read everything sent so far: its receive queue in /proc/net/tcp is empty. (A connection
 * still in the accept backlog, or whose bytes the server has not read, holds them there.)
 */
function serverHasRead(serverPort: number, clientPort: number): boolean {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 5) continue;
      const [, local, remote, state, queues] = f as [string, string, string, string, string];
      if (local.endsWith(`:${hex(serverPort)}`) && remote.endsWith(`:${hex(clientPort)}`) && state === '01') return queues.split(':')[1] === '00000000';
    }
  }
  return false;
}

/**
 * A request whose headers and first half of the body the server has read before SIGTERM (`ready`);
 * `finish()` sends the rest. It is in flight by any definition.
 */
function halfSent(port: number, body: string, sent: Sent): { ready: Promise<void>; finish(): void; done: Promise<Sent> } {
  const buf = Buffer.from(body);
  const half = Math.floor(buf.length / 2);
  let finish = (): void => undefined;
  let written: (clientPort: number) => void = () => undefined;
  const wrote = new Promise<number>((resolve) => (written = resolve));
  const done = new Promise<Sent>((resolve) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: 'POST', path: '/api/v1/alerts', agent: false, headers: { 'content-type': 'application/json', 'content-length': buf.length, authorization: `Bearer ${TOKENS.alertmanager}` } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          sent.outcome = res.statusCode;
          if (res.statusCode === 200) sent.runId = (JSON.parse(text) as { decisions: { runId?: string }[] }).decisions[0]?.runId;
          sent.endedAt = Date.now();
          resolve(sent);
        });
        res.on('error', (err: NodeJS.ErrnoException) => {
          sent.outcome = `response ${err.code ?? err.message}`;
          sent.endedAt = Date.now();
          resolve(sent);
        });
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      sent.outcome = err.code ?? err.message;
      sent.endedAt = Date.now();
      resolve(sent);
    });
    req.flushHeaders();
    req.write(buf.subarray(0, half), () => written(req.socket?.localPort ?? 0));
    finish = () => req.end(buf.subarray(half));
  });
  const ready = wrote.then((clientPort) => poll(async () => (serverHasRead(port, clientPort) ? true : undefined), 10_000, `the server to read the request from port ${clientPort}`)).then(() => undefined);
  return { ready, finish: () => finish(), done };
}

describe('graceful shutdown under load (issue 17)', () => {
  let redis: TestRedis;
  let sim: SimCluster;
  let config: string;
  let store: RunStore;
  let storeRedis: ReturnType<TestRedis['client']> | undefined;
  let keys: RedisKeys;
  const procs: WorkerProcess[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    sim = await startSimCluster({ port: 0 });
    const dir = mkdtempSync(join(tmpdir(), 'remediator-shutdown-'));
    atTestExit(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'kubeconfig'), simKubeconfigYaml(sim.url));
    writeFileSync(join(dir, 'audit-key'), randomBytes(32).toString('hex'));
    const prefix = `gs${randomBytes(3).toString('hex')}`;
    keys = new RedisKeys(prefix);
    config = join(dir, 'remediator.yaml');
    writeFileSync(
      config,
      `server: { port: 8080, shutdownGraceSeconds: ${GRACE_S} }
redis: { ${redis.yaml}, prefix: ${prefix} }
kubernetes: { kubeconfig: ./kubeconfig }
auth:
  tokens:
    - { name: alertmanager, role: alertmanager, token: ${TOKENS.alertmanager} }
audit: { keyFile: ./audit-key }
rules:
  - name: scale-and-wait
    matchers: ['alertname="SlowRollout"']
    playbook: scale-replicas
    params: { maxReplicas: 3, waitForReadySeconds: 60 }
    cooldown: 1h
  - name: scale-now
    matchers: ['alertname="FastScale"']
    playbook: scale-replicas
    params: { maxReplicas: 6, waitForReadySeconds: 0 }
    cooldown: 1h
`,
    );
    storeRedis = redis.client();
    store = new RunStore(storeRedis, keys);
    // From 0 replicas: the scale's new pod becomes ready only after the annotated delay.
    await createDeployment(sim, 'slow-short', 0, SHORT_READY_MS);
    await createDeployment(sim, 'slow-long', 0, LONG_READY_MS);
    for (let i = 0; i < FAST; i++) await createDeployment(sim, `fast-${i}`, 0);
  }, 60_000);

  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    storeRedis?.disconnect();
    await sim?.close();
    await redis?.stop();
  });

  it('SIGTERM mid-stream: in-flight requests answered, accepted alerts in Redis, exit 0 within the grace period, the cut step resumed elsewhere without acting twice', async () => {
    const first = await spawnServe(config, 'all', 'info');
    procs.push(first);
    await waitWorkerReady(first, 60_000);
    const exitCode = new Promise<number | null>((resolve) => {
      if (first.child.exitCode !== null) resolve(first.child.exitCode);
      else first.child.once('exit', (code) => resolve(code));
    });

    // Two steps in flight: both scales applied, both waiting for their rollout.
    const slow: Sent[] = [];
    for (const name of ['slow-long', 'slow-short']) {
      const s = await post(first.port, alert('SlowRollout', name), { name, startedAt: Date.now() });
      expect(s.outcome, name).toBe(200);
      slow.push(s);
    }

    // The stream: four senders, one notification each every PACE_MS, the fast targets in turn.
    const sent: Sent[] = [];
    let next = 0;
    let sigtermAt = 0;
    let stop = false;
    const sender = async (): Promise<void> => {
      while (!stop) {
        // Past FAST targets the stream repeats them (Alertmanager's repeats): answered 200 as duplicates.
        const name = `fast-${next++ % FAST}`;
        const s: Sent = { name, startedAt: Date.now() };
        sent.push(s);
        await post(first.port, alert('FastScale', name), s);
        // After SIGTERM, go on until the process stops accepting (a refusal or a 503 ends this sender).
        if (sigtermAt && s.outcome !== 200) return;
        await new Promise((r) => setTimeout(r, PACE_MS));
      }
    };
    const senders = [sender(), sender(), sender(), sender()];

    await poll(async () => (scalesApplied(sim, 'slow-short') === 1 && scalesApplied(sim, 'slow-long') === 1 && next >= 12 ? true : undefined), 30_000, 'both slow scales applied, the stream under way');
    // Requests whose server side has certainly begun.
    const halves = ['fast-half-a', 'fast-half-b', 'fast-half-c'].map((name) => ({ name }));
    for (const h of halves) await createDeployment(sim, h.name, 0);
    const half = halves.map((h) => {
      const s: Sent = { name: h.name, startedAt: Date.now() };
      return { sent: s, ...halfSent(first.port, alert('FastScale', h.name), s) };
    });
    await Promise.all(half.map((h) => h.ready));
    const slowShortScaledAt = Date.parse(sim.requests.find((r) => r.method === 'PATCH' && r.path.endsWith('/deployments/slow-short/scale'))!.time);

    // slow-short is still waiting for its rollout: a step in flight that can finish within the grace period.
    expect((await store.get(slow[1]!.runId!))?.status).toBe('running');
    sigtermAt = Date.now();
    const inFlightAtSigterm = sent.filter((s) => s.endedAt === undefined);
    first.child.kill('SIGTERM');
    await poll(async () => (/shutting down/.test(first.output()) ? true : undefined), 5000, 'the process to log its shutdown');
    for (const h of half) h.finish();
    // Draining: out of the Service (readiness fails), alive (liveness answers), new requests refused with a 503.
    const [readyz, healthz, late] = await Promise.all(
      ['/readyz', '/healthz', '/api/v1/alerts'].map((path) =>
        fetch(`http://127.0.0.1:${first.port}${path}`, {
          ...(path === '/api/v1/alerts' ? { method: 'POST', body: alert('FastScale', 'fast-0'), headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.alertmanager}` } } : {}),
        }).then(async (r) => ({ status: r.status, connection: r.headers.get('connection'), retryAfter: r.headers.get('retry-after'), body: await r.text() })),
      ),
    );
    expect(readyz!.status).toBe(503);
    expect(healthz!.status).toBe(200);
    expect(late).toMatchObject({ status: 503, connection: 'close', retryAfter: '1' });
    expect(late!.body).toContain('shutting down');

    const code = await Promise.race([exitCode, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), (GRACE_S + 15) * 1000))]);
    const exitMs = Date.now() - sigtermAt;
    stop = true;
    await Promise.all(senders);
    const halfDone = await Promise.all(half.map((h) => h.done));
    const log = first.output();

    // Every request in flight at SIGTERM got a whole HTTP answer: 200, or 503 once shutdown had begun.
    const inFlight = [...inFlightAtSigterm, ...halfDone];
    const unanswered = inFlight.filter((s) => s.outcome !== 200 && s.outcome !== 503).map((s) => `${s.name}: ${s.outcome} (sent ${s.startedAt - sigtermAt} ms from SIGTERM, ended ${s.endedAt! - sigtermAt} ms)`);
    expect(unanswered).toEqual([]);
    expect(halfDone.map((s) => s.outcome)).toEqual(halfDone.map(() => 200));
    // The process exits 0 within the grace period, by its own clock and as seen from outside.
    expect(code).toBe(0);
    const stopped = /"ms":(\d+),"graceMs":(\d+),"msg":"remediator stopped"/.exec(log);
    expect(stopped, 'the stop line').not.toBeNull();
    expect(Number(stopped![1])).toBeLessThanOrEqual(GRACE_S * 1000);
    expect(exitMs).toBeLessThan(GRACE_S * 1000 + EXIT_SEEN_SLACK_MS);
    expect(log).not.toMatch(/"level":(50|60)/);

    // Every alert answered 200 is in Redis.
    const accepted = [...slow, ...sent, ...halfDone].filter((s) => s.outcome === 200);
    expect(accepted.every((s) => typeof s.runId === 'string')).toBe(true);
    const missing: string[] = [];
    for (const s of accepted) if (!(await store.get(s.runId!))) missing.push(s.name);
    expect(missing).toEqual([]);

    // The step that could finish within the grace period did; the other was cut and is resumable:
    // still running (not failed), its job waiting for another worker.
    const slowLong = (await store.get(slow[0]!.runId!))!;
    const slowShort = (await store.get(slow[1]!.runId!))!;
    expect(slowShort.status, slowShort.reason).toBe('succeeded');
    // It finished during the grace period, before the process exited.
    const slowShortFinishedMs = Date.parse(slowShort.finishedAt!) - sigtermAt;
    expect(slowShortFinishedMs).toBeGreaterThan(0);
    expect(slowShortFinishedMs).toBeLessThan(exitMs);
    expect(slowLong.status, slowLong.reason).toBe('running');
    const job = `${keys.bullPrefix}:jobs:${slowLong.id}`;
    const jobRedis = redis.client();
    try {
      expect(await jobRedis.exists(job)).toBe(1);
      expect(await jobRedis.exists(`${job}:lock`)).toBe(0);
    } finally {
      jobRedis.disconnect();
    }

    // What the first process refused after SIGTERM (503, or no connection) is delivered again, to a
    // second process, as Alertmanager retries; that process also resumes the cut run.
    const refused = [...sent, ...halfDone].filter((s) => s.outcome !== 200);
    const second = await spawnServe(config, 'all', 'warn');
    procs.push(second);
    await waitWorkerReady(second, 60_000);
    for (const s of refused) {
      const again = await post(second.port, alert('FastScale', s.name), { name: s.name, startedAt: Date.now() });
      expect(again.outcome, s.name).toBe(200);
      s.runId = again.runId;
    }
    const ids = [...slow, ...sent, ...halfDone].map((s) => s.runId!).filter(Boolean);
    const runs = await poll(async () => {
      const all = await Promise.all(ids.map((id) => store.get(id)));
      return all.every((r) => r && isTerminal(r.status)) ? (all as Run[]) : undefined;
    }, 45_000, 'every run to end');
    expect(runs.filter((r) => r.status !== 'succeeded').map((r) => `${r.target}: ${r.status} ${r.reason}`)).toEqual([]);
    const resumed = runs.find((r) => r.id === slowLong.id)!;
    expect(resumed.attempts).toBeGreaterThanOrEqual(2);
    expect(resumed.reason).toMatch(/earlier attempt/);
    // Nothing scaled twice: the cut run found its scale done and only waited for the rollout.
    const targets = [...new Set([...slow, ...sent, ...halfDone].map((s) => s.name))];
    expect(targets.filter((n) => scalesApplied(sim, n) !== 1).map((n) => `${n}: ${scalesApplied(sim, n)}`)).toEqual([]);

    const afterSigterm = sent.filter((s) => s.startedAt >= sigtermAt);
    // A sender that met the shutdown met a 503, not a refused connection (the listener stays open
    // until the last phase).
    expect(afterSigterm.filter((s) => s.outcome !== 200 && s.outcome !== 503).map((s) => `${s.name}: ${s.outcome} +${s.startedAt - sigtermAt} ms`)).toEqual([]);
    const outcomes = new Map<string, number>();
    for (const s of [...sent, ...halfDone]) outcomes.set(String(s.outcome), (outcomes.get(String(s.outcome)) ?? 0) + 1);
    console.info(
      `[graceful-shutdown] ${sent.length + halfDone.length} notifications (${sent.filter((s) => s.startedAt < sigtermAt).length} before SIGTERM); in flight at SIGTERM: ${inFlight.length} (${inFlight.map((s) => `${s.outcome}@${s.endedAt! - sigtermAt}ms`).join(', ')}); after SIGTERM: ${afterSigterm.filter((s) => s.outcome === 200).length} answered 200${afterSigterm.some((s) => s.outcome === 200) ? ` (on connections busy at SIGTERM; the last sent at +${Math.max(...afterSigterm.filter((s) => s.outcome === 200).map((s) => s.startedAt - sigtermAt))} ms)` : ''}; ${afterSigterm.filter((s) => s.outcome !== 200).map((s) => `${s.outcome} sent +${s.startedAt - sigtermAt} ms, ended +${s.endedAt! - sigtermAt} ms`).join(', ') || 'none refused'}; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}; exit ${code} after ${exitMs} ms (grace ${GRACE_S * 1000} ms); slow-short ready ${SHORT_READY_MS} ms after its scale, SIGTERM ${sigtermAt - slowShortScaledAt} ms after it, finished ${slowShortFinishedMs} ms after SIGTERM; slow-long resumed in attempt ${resumed.attempts}; ${refused.length} refused alerts re-delivered to the second process`,
    );
  }, 120_000);
});
