import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../observability/logger.js';
import { validateConfigText } from '../config/load-config.js';
import { startRemediator, playbookMap, type Remediator } from '../composition-root.js';
import { playbooks } from '../../playbooks/index.js';
import { isTerminal, type Run } from '../domain/run.js';
import { startEmbeddedRedis, type EmbeddedRedis } from './embedded-redis.js';
import { startSimCluster } from '../sim/sim-cluster.js';
import { simKubeconfigYaml } from '../sim/sim-kubeconfig.js';
import { verifyAuditChain } from '../audit/verify-audit-chain.js';
import { SimPrometheus } from '../sim/sim-prometheus.js';
import { deleteContext, saveContext, setCurrentContext } from './client/context-store.js';
import { renderQuery } from '../engine/query-template.js';

/** Captured Alertmanager notifications, copied beside the demo so the build ships them in dist/. */
const FIXTURES_DIR = fileURLToPath(new URL('./demo-notifications/', import.meta.url));
/** The captured notifications the demo replays, in order. */
const DEMO_FIXTURES = ['firing-kube-pod-oom-killed', 'firing-llm-high-latency-p95', 'firing-gpu-node-overheating', 'firing-two-alerts-one-group'];
/** Fresh for every demo: printed for the page and the CLI, never reused. */
const DEMO_TOKENS = {
  alertmanager: randomBytes(16).toString('hex'),
  viewer: randomBytes(16).toString('hex'),
  operator: randomBytes(16).toString('hex'),
  admin: randomBytes(16).toString('hex'),
};

const OOM_PRECHECK = 'max(kube_pod_container_status_last_terminated_reason{namespace="{{ labels.namespace }}", pod="{{ labels.pod }}", reason="OOMKilled"}) == 1';
/** After the restart: is the workload still being OOM-killed? (The demo's Prometheus says yes.) */
const OOM_AGAIN =
  'max(kube_pod_container_status_last_terminated_reason{namespace="{{ labels.namespace }}", container="{{ labels.container }}", reason="OOMKilled"}) == 1';
const LATENCY_QUERY =
  'histogram_quantile(0.95, sum by (le, namespace, deployment) (rate(llm_request_latency_seconds_bucket{namespace="{{ labels.namespace }}", deployment="{{ labels.deployment }}"}[5m]))) > 2';

const DEMO_RULES = `
rules:
  - name: restart-oom-killed-pods
    matchers: ['alertname="KubePodOOMKilled"']
    playbook: restart-oom-pod
    params: { waitForReadySeconds: 60 }
    cooldown: 10m
    precheck: '${OOM_PRECHECK}'
    verify: { within: 4s, interval: 1s, query: '${OOM_AGAIN}' }
    escalate:
      playbook: { name: raise-memory-limit, params: { factor: 1.5, maxLimit: 64Gi }, approval: required }
  - name: scale-slow-llm
    matchers: ['alertname="LLMHighLatencyP95"']
    playbook: scale-replicas
    params: { step: 1, maxReplicas: 8 }
    cooldown: 15m
    precheck: '${LATENCY_QUERY}'
    verify: { within: 30s, interval: 1s, query: '${LATENCY_QUERY}' }
  - name: drain-overheated-gpu-nodes
    matchers: ['alertname="GPUNodeOverheating"', 'severity=~"critical|page"']
    playbook: drain-gpu-node
    params: { timeoutSeconds: 120, deleteEmptyDirData: true }
    cooldown: 1h
`;

/**
 * What the demo's simulated Prometheus says: the OOM-killed llm-api pod and the slow llm-api
 * still show their problem (their prechecks pass); the trainer pods restarted cleanly since
 * their alert fired (their precheck finds nothing, so those runs are skipped).
 */
function seedPrometheus(prom: SimPrometheus): void {
  prom.set(renderQuery(OOM_PRECHECK, { namespace: 'ml-serving', pod: 'llm-api-7d9f8b6c5-x2kqp' }), [
    { metric: { namespace: 'ml-serving', pod: 'llm-api-7d9f8b6c5-x2kqp', reason: 'OOMKilled' }, value: 1 },
  ]);
  prom.set(renderQuery(LATENCY_QUERY, { namespace: 'ml-serving', deployment: 'llm-api' }), [{ metric: { namespace: 'ml-serving', deployment: 'llm-api' }, value: 3.42 }]);
  // The restarted llm-api is OOM-killed again: its verification fails and escalates.
  prom.set(renderQuery(OOM_AGAIN, { namespace: 'ml-serving', container: 'llm-api' }), [{ metric: { namespace: 'ml-serving', container: 'llm-api', reason: 'OOMKilled' }, value: 1 }]);
}

function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

async function waitForRuns(remediator: Remediator, ids: string[], timeoutMs: number): Promise<Run[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const runs = await Promise.all(ids.map((id) => remediator.runs.get(id)));
    if (runs.every((r) => r && isTerminal(r.status))) return runs as Run[];
    if (Date.now() > deadline) return runs.filter((r): r is Run => r !== undefined);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Makes the CLI talk to this demo with the operator token (context `demo`), and undoes it on
 * exit: the context goes, the one current before comes back. Says what it did, or why not.
 */
function saveDemoContext(url: string, cleanups: (() => unknown)[]): string {
  try {
    const saved = saveContext({ name: 'demo', url, token: DEMO_TOKENS.operator }, { makeCurrent: true });
    cleanups.push(() => {
      deleteContext('demo');
      if (saved.previousCurrent !== undefined && saved.previousCurrent !== 'demo') setCurrentContext(saved.previousCurrent);
    });
    const restore = saved.previousCurrent !== undefined && saved.previousCurrent !== 'demo' ? `; "${saved.previousCurrent}" is current again when the demo stops` : '';
    return `context "demo" (operator) is current in ${saved.path}${restore}: try \`remediator runs\``;
  } catch (err) {
    return `no CLI context saved (${(err as Error).message}); use --url ${url} --token <operator token>`;
  }
}

async function waitForVerification(remediator: Remediator, run: Run, timeoutMs: number): Promise<Run> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = (await remediator.runs.get(run.id)) ?? run;
    if (current.verification?.result !== 'pending' || Date.now() > deadline) return current;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * `remediator demo`: its own redis-server (unless REDIS_URL is set), the simulated cluster, a
 * generated audit key; replays captured Alertmanager notifications and shows what happened.
 */
export async function demoCommand(opts: { once: boolean }): Promise<void> {
  // The folder holds the audit key: it goes when the demo does, however it ends.
  const dir = mkdtempSync(join(tmpdir(), 'remediator-demo-'));
  const cleanups: (() => unknown)[] = [() => rmSync(dir, { recursive: true, force: true })];
  let interrupt: () => void = () => undefined;
  const interrupted = new Promise<'interrupted'>((resolve) => {
    interrupt = () => resolve('interrupted');
  });
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  let serving = false;
  let outcome: 'done' | 'interrupted' = 'done';
  try {
    const story = runDemo(opts, dir, cleanups, interrupted, () => (serving = true));
    // Interrupted mid-story, its remaining steps fail as everything shuts down: nothing to report.
    story.catch(() => undefined);
    outcome = await Promise.race([story, interrupted]);
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // Best effort: one failed step must not keep the others (the key's folder) from running.
      }
    }
  }
  // Ctrl-C while serving is the way to stop; before that it cuts the story short.
  if (outcome === 'interrupted' && !serving) process.exit(130);
}

async function runDemo(opts: { once: boolean }, dir: string, cleanups: (() => unknown)[], interrupted: Promise<'interrupted'>, onServing: () => void): Promise<'done'> {
  let embedded: EmbeddedRedis | undefined;
  const redisUrl = process.env.REDIS_URL ?? (embedded = await startEmbeddedRedis()).url;
  if (embedded) cleanups.push(() => embedded!.stop());
  const sim = await startSimCluster({ port: 0 });
  cleanups.push(() => sim.close());
  const prom = new SimPrometheus();
  await prom.start();
  cleanups.push(() => prom.close());
  seedPrometheus(prom);
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, simKubeconfigYaml(sim.url));
  const auditKey = randomBytes(32);
  const keyFile = join(dir, 'audit-key');
  writeFileSync(keyFile, auditKey.toString('hex'), { mode: 0o600 });
  const prefix = `remediator-demo-${randomBytes(3).toString('hex')}`;
  const text = `
server: { port: ${Number(process.env.PORT ?? 0)}, shutdownGraceSeconds: 10 }
redis: { url: '${redisUrl}', prefix: '${prefix}' }
kubernetes: { kubeconfig: '${kubeconfig}', requestTimeoutSeconds: 5 }
auth:
  tokens:
    - { name: alertmanager, role: alertmanager, token: '${DEMO_TOKENS.alertmanager}' }
    - { name: demo-viewer, role: viewer, token: '${DEMO_TOKENS.viewer}' }
    - { name: demo-operator, role: operator, token: '${DEMO_TOKENS.operator}' }
    - { name: demo-admin, role: admin, token: '${DEMO_TOKENS.admin}' }
audit: { keyFile: '${keyFile}' }
# A drain or restart started by hand waits for a second person (the admin token here): the two-person rule, tried on the page.
guards: { manualApproval: destructive }
prometheus: { url: '${prom.url}', timeoutSeconds: 2 }
${DEMO_RULES}`;
  const config = validateConfigText(text, join(dir, 'remediator.yaml'), playbookMap(playbooks), { env: {} });
  // The story is printed below; only what needs a human (error) is logged on top of it.
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'error' });
  const remediator = await startRemediator({ config, role: 'all', auditKey: Buffer.from(auditKey.toString('hex')), logger, port: config.server.port, host: '127.0.0.1', sealIntervalMs: 250 });
  cleanups.push(() => remediator.stop());
  const cliContext = saveDemoContext(remediator.url, cleanups);

  out('Remediator demo');
  out(`  cluster : SIMULATED Kubernetes API at ${sim.url} (kubectl --kubeconfig ${kubeconfig} get nodes)`);
  out(`  metrics : SIMULATED Prometheus at ${prom.url} (answers the prechecks and verifications below with canned results)`);
  out(`  redis   : ${embedded ? `embedded redis-server at ${redisUrl}` : redisUrl} (key prefix {${prefix}})`);
  out(`  api     : ${remediator.url}  (metrics: ${remediator.url}/metrics)`);
  out();

  const available = new Set(readdirSync(FIXTURES_DIR).map((f) => f.replace(/\.json$/, '')));
  const runs: Run[] = [];
  const escalated: Run[] = [];
  // One notification at a time, each run to its end, so the story reads in order.
  for (const name of DEMO_FIXTURES.filter((f) => available.has(f))) {
    const { body } = JSON.parse(readFileSync(join(FIXTURES_DIR, `${name}.json`), 'utf8')) as { body: unknown };
    const res = await fetch(`${remediator.url}/api/v1/alerts`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${DEMO_TOKENS.alertmanager}` }, body: JSON.stringify(body) });
    const result = (await res.json()) as { decisions?: { fingerprint: string; rule: string | null; decision: string; runId?: string }[] };
    out(`POST ${name}.json -> ${res.status}`);
    const ids: string[] = [];
    for (const d of result.decisions ?? []) {
      out(`  alert ${d.fingerprint}: ${d.decision}${d.rule ? ` by rule ${d.rule}` : ''}${d.runId ? ` (run ${d.runId})` : ''}`);
      if (d.runId && d.decision === 'enqueued') ids.push(d.runId);
    }
    for (const finished of await waitForRuns(remediator, ids, 180_000)) {
      let run = finished;
      out(`  ${run.status.toUpperCase()} ${run.playbook} ${run.target} changed=${run.changed}${run.dryRun ? ' (dry run)' : ''}`);
      out(`    ${run.reason ?? ''}`);
      if (run.precheck) out(`    precheck ${run.precheck.result ?? 'not evaluated'}: ${run.precheck.query}${run.precheck.detail ? ` -> ${run.precheck.detail}` : ''}`);
      for (const step of run.steps) out(`    - ${step.action} ${step.object}: ${step.result}${step.detail ? ` (${step.detail})` : ''}`);
      if (run.health) out(`    health ${run.health.result}: ${run.health.detail}`);
      if (run.verification) {
        // The scale worked: the simulated Prometheus stops reporting slow requests, and the next check sees it.
        if (run.playbook === 'scale-replicas' && run.verification.query) prom.set(run.verification.query, []);
        out(`    verifying: ${run.verification.detail}`);
        run = await waitForVerification(remediator, run, 40_000);
        out(`    verification ${run.verification!.result}: ${run.verification!.detail}`);
        for (const id of run.escalations ?? []) {
          const followUp = await remediator.runs.get(id);
          if (!followUp) continue;
          escalated.push(followUp);
          out(`    ESCALATED: the fix did not stick -> ${followUp.playbook} ${followUp.target} ${JSON.stringify(followUp.params)} is ${followUp.status}`);
          out(`      run ${followUp.id}; an operator approves it: remediator approve ${followUp.id.slice(0, 8)} --reason TEXT`);
        }
      }
      runs.push(run);
    }
    out();
  }
  const runIds = runs.map((r) => r.id);

  // Give the sealer a moment to chain the newest entries before showing and verifying them.
  await new Promise((r) => setTimeout(r, 1000));
  const entries = await remediator.audit.read({ count: 1000 });
  out(`Audit trail (${entries.length} entries)`);
  for (const { entry } of entries) {
    const e = entry as unknown as Record<string, unknown>;
    const what = [e.type, e.action ?? e.to ?? e.guard ?? '', e.object ?? e.target ?? ''].filter(Boolean).join(' ');
    out(`  ${String(e.at)}  ${String(e.actor).padEnd(12)} ${what}`);
  }
  const verify = await verifyAuditChain({ redis: remediator.redis, prefix, key: Buffer.from(auditKey.toString('hex')) });
  out(`Audit chain: ${verify.ok ? 'verified' : 'BROKEN'} (${verify.checked} sealed, ${verify.unsealed} not yet sealed)`);
  out();

  const succeeded = runs.filter((r) => r.status === 'succeeded').length;
  const skipped = runs.filter((r) => r.status === 'skipped' && r.precheck?.result === 'fail').length;
  const resolved = runs.filter((r) => r.verification?.result === 'resolved').length;
  const waiting = escalated.filter((r) => r.status === 'awaiting_approval').length;
  out(`${succeeded} of ${runIds.length} remediations succeeded; ${skipped} skipped by their precheck (the condition no longer held); ${resolved} verified resolved; ${escalated.length} escalated (${waiting} awaiting approval).`);
  // Every run ended as the story says: acted, or stood down because its precheck found nothing; one fix did not stick and escalated.
  const asExpected = runIds.length > 0 && succeeded + skipped === runIds.length && resolved >= 1 && skipped >= 1 && waiting >= 1;

  out('Sign in (these tokens live as long as the demo)');
  out(`  page     : ${remediator.url}/ui/`);
  out(`  viewer   : ${DEMO_TOKENS.viewer}`);
  out(`  operator : ${DEMO_TOKENS.operator}   (approve the waiting run, cancel, start runs)`);
  out(`  admin    : ${DEMO_TOKENS.admin}   (also pause and resume; approves an operator's drain or restart)`);
  out(`  webhook  : ${DEMO_TOKENS.alertmanager}   (alertmanager role: POST your own notification to ${remediator.url}/api/v1/alerts)`);
  out(`  CLI      : ${cliContext}`);
  out();
  if (opts.once) {
    process.exitCode = asExpected ? 0 : 1;
    return 'done';
  }
  out('Still serving; press Ctrl-C to stop.');
  onServing();
  await interrupted;
  return 'done';
}
