/**
 * The chain a user runs (issue 15): exporter series → Debian's Prometheus with the SHIPPED scrape
 * relabelling (deploy/prometheus/scrape-kubernetes.yml) and alert rules (deploy/prometheus/rules.yml)
 * → Debian's Alertmanager with the SHIPPED receiver config (deploy/alertmanager/alertmanager.yml)
 * → Remediator (api and worker) with the example's rules (remediator.example.yaml), prechecks and
 * verifications against that Prometheus and Alertmanager → the simulated cluster, with RBAC on and
 * the SHIPPED ClusterRole (`kubectl kustomize deploy/kubernetes`): the worker acts as the
 * remediator-worker ServiceAccount, the api as one without any binding.
 *
 * One mechanical transformation (test/helpers/chain-config.ts, checked by
 * test/unit/deploy/chain-transform.test.ts): durations ÷ 60 and file_sd targets carrying the
 * `__meta_kubernetes_*` labels discovery would give. Nothing else of the shipped files changes.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { parse, stringify } from 'yaml';
import { ALERTMANAGER_BIN, onPath, startAlertmanager, type AlertmanagerHandle } from '../helpers/alertmanager-process.js';
import { PROMETHEUS_BIN, startPrometheus, type PrometheusHandle } from '../helpers/prometheus-process.js';
import { ChainExporter } from '../helpers/chain-exporter.js';
import { scaleAlertmanagerTimers, scaleRemediatorRules, scaleRuleFile, scrapeJobsWithFileSd, type FileSdGroup } from '../helpers/chain-config.js';
import { freePort, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { NotificationReceiver } from '../helpers/notification-receiver.js';
import { pollUntil } from '../helpers/sim-helpers.js';
import { renderManifests } from '../helpers/rbac-grants.js';
import { startSimCluster, type SimCluster } from '../../src/sim/index.js';
import { validateConfigText } from '../../src/config/load-config.js';
import { playbooks } from '../../playbooks/index.js';
import { playbookMap, startRemediator, type Remediator } from '../../src/composition-root.js';
import type { Run } from '../../src/domain/run.js';

const ROOT = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, ROOT), 'utf8');
const available = onPath(PROMETHEUS_BIN) && onPath(ALERTMANAGER_BIN);
const AM_TOKEN = randomBytes(16).toString('hex');
const VIEWER = randomBytes(16).toString('hex');

describe.skipIf(!available)('the chain: exporter → Prometheus (shipped relabelling and rules) → Alertmanager (shipped receiver) → Remediator (example rules) → cluster', () => {
  let sim: SimCluster;
  let redis: RedisServerHandle;
  let exporter: ChainExporter;
  let receiver: NotificationReceiver;
  let am: AlertmanagerHandle;
  let prom: PrometheusHandle;
  let api: Remediator;
  let worker: Remediator;
  const dir = mkdtempSync(join(tmpdir(), 'remediator-chain-'));

  const runs = async (): Promise<Run[]> => {
    const res = await fetch(`${api.url}/api/v1/runs?limit=100`, { headers: { authorization: `Bearer ${VIEWER}` } });
    return ((await res.json()) as { items: Run[] }).items;
  };
  const runOf = (playbook: string, target: string, done: (r: Run) => boolean, what: string, timeoutMs = 90_000): Promise<Run> =>
    pollUntil(async () => (await runs()).find((r) => r.playbook === playbook && r.target === target && done(r)), what, timeoutMs);

  beforeAll(async () => {
    const manifests = renderManifests();
    sim = await startSimCluster({
      port: 0,
      rbac: { manifests, tokens: { 'chain-worker': 'system:serviceaccount:remediator:remediator-worker', 'chain-api': 'system:serviceaccount:remediator:remediator-api' } },
    });
    redis = await startRedisServer();
    exporter = new ChainExporter();
    await exporter.start();
    receiver = await NotificationReceiver.start();
    const apiPort = await freePort();

    // Alertmanager: the shipped config, its receiver pointed at this Remediator, timers ÷ 60.
    const amConfig = scaleAlertmanagerTimers(parse(read('deploy/alertmanager/alertmanager.yml')) as Record<string, any>);
    const hook = amConfig.receivers.find((r: { name: string }) => r.name === 'remediator').webhook_configs[0];
    hook.url = `http://127.0.0.1:${apiPort}/api/v1/alerts`;
    hook.http_config.authorization.credentials_file = join(dir, 'am-token');
    writeFileSync(join(dir, 'am-token'), AM_TOKEN);
    am = await startAlertmanager({ config: () => stringify(amConfig), logLevel: 'info' });

    // Prometheus: the shipped rules ÷ 60 and the shipped scrape jobs on file_sd targets.
    writeFileSync(join(dir, 'rules.yml'), scaleRuleFile(read('deploy/prometheus/rules.yml')));
    const jobs = scrapeJobsWithFileSd(read('deploy/prometheus/scrape-kubernetes.yml'), dir, {});
    prom = await startPrometheus({
      config: () =>
        stringify({
          global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
          rule_files: [join(dir, 'rules.yml')],
          alerting: { alertmanagers: [{ static_configs: [{ targets: [new URL(am.url).host] }] }] },
          scrape_configs: jobs,
        }),
    });

    // Remediator: the example config's guards and rules (durations ÷ 60), this machine's endpoints.
    const example = parse(read('remediator.example.yaml')) as Record<string, any>;
    writeFileSync(join(dir, 'kubeconfig-worker'), sim.kubeconfigYaml('chain-worker'));
    writeFileSync(join(dir, 'kubeconfig-api'), sim.kubeconfigYaml('chain-api'));
    writeFileSync(join(dir, 'audit-key'), randomBytes(32).toString('hex'));
    writeFileSync(join(dir, 'slack-url'), receiver.url('/slack'));
    writeFileSync(join(dir, 'hook-secret'), 'chain-secret');
    const config = {
      server: { port: apiPort, shutdownGraceSeconds: 5 },
      redis: { url: redis.url, prefix: 'chain' },
      kubernetes: { kubeconfig: join(dir, 'kubeconfig-worker'), requestTimeoutSeconds: 5 },
      dryRun: example.dryRun,
      auth: { tokens: [{ name: 'alertmanager', role: 'alertmanager', token: AM_TOKEN }, { name: 'grafana', role: 'viewer', token: VIEWER }] },
      audit: { keyFile: join(dir, 'audit-key') },
      guards: example.guards,
      prometheus: { url: prom.url, timeoutSeconds: 5 },
      alertmanager: { url: am.url },
      ui: example.ui,
      notifications: [
        { name: 'oncall-slack', type: 'slack', urlFile: join(dir, 'slack-url') },
        { name: 'incident-hook', type: 'webhook', url: receiver.url('/hook'), secretFile: join(dir, 'hook-secret') },
      ],
      rules: scaleRemediatorRules(example.rules),
    };
    const loaded = validateConfigText(stringify(config), join(dir, 'remediator.yaml'), playbookMap(playbooks), { env: {} });
    const apiConfig = validateConfigText(stringify({ ...config, kubernetes: { ...config.kubernetes, kubeconfig: join(dir, 'kubeconfig-api') } }), join(dir, 'remediator-api.yaml'), playbookMap(playbooks), { env: {} });
    const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
    const auditKey = readFileSync(join(dir, 'audit-key'));
    api = await startRemediator({ config: apiConfig, role: 'api', auditKey, logger, port: apiPort, host: '127.0.0.1' });
    worker = await startRemediator({ config: loaded, role: 'worker', auditKey, logger, port: 0, host: '127.0.0.1', sweepIntervalMs: 500 });

    // What Kubernetes discovery would give each target; the shipped relabelling does the rest.
    const at = `127.0.0.1:${exporter.port}`;
    const groups: Record<string, FileSdGroup[]> = {
      'remediator-api': [{ targets: [`127.0.0.1:${api.port}`], labels: { __meta_kubernetes_namespace: 'remediator', __meta_kubernetes_service_name: 'remediator-api', __meta_kubernetes_endpoint_port_name: 'http', __meta_kubernetes_pod_name: 'remediator-api-6d5f7-x2x9q' } }],
      'remediator-worker': [{ targets: [`127.0.0.1:${worker.port}`], labels: { __meta_kubernetes_namespace: 'remediator', __meta_kubernetes_service_name: 'remediator-worker', __meta_kubernetes_endpoint_port_name: 'http', __meta_kubernetes_pod_name: 'remediator-worker-58c4b-k7w2d' } }],
      'dcgm-exporter': ['gpu-node-1', 'gpu-node-2', 'gpu-node-3'].map((node) => ({
        targets: [at],
        labels: { __metrics_path__: `/dcgm/${node}`, __meta_kubernetes_namespace: 'gpu-operator', __meta_kubernetes_pod_name: `nvidia-dcgm-exporter-${node.slice(-1)}`, __meta_kubernetes_pod_label_app: 'nvidia-dcgm-exporter', __meta_kubernetes_pod_container_port_number: '9400', __meta_kubernetes_pod_node_name: node },
      })),
      'nvidia-gpu-exporter': [
        { targets: [at], labels: { __metrics_path__: '/nvidia-smi/gpu-node-4', __meta_kubernetes_pod_label_app_kubernetes_io_name: 'nvidia-gpu-exporter', __meta_kubernetes_pod_container_port_number: '9835', __meta_kubernetes_pod_node_name: 'gpu-node-4' } },
        // Another container port of the same pod: the shipped keep rule drops it.
        { targets: ['127.0.0.1:1'], labels: { __meta_kubernetes_pod_label_app_kubernetes_io_name: 'nvidia-gpu-exporter', __meta_kubernetes_pod_container_port_number: '8080', __meta_kubernetes_pod_node_name: 'gpu-node-4' } },
      ],
      'kube-state-metrics': [{ targets: [at], labels: { __metrics_path__: '/kube-state-metrics', __meta_kubernetes_namespace: 'monitoring', __meta_kubernetes_service_label_app_kubernetes_io_name: 'kube-state-metrics', __meta_kubernetes_endpoint_port_name: 'http-metrics' } }],
      'llm-serving': [
        ...[['ml-serving', 'llm-inference', 'llm-inference-786b6dc67b-a1'], ['ml-serving', 'llm-inference', 'llm-inference-786b6dc67b-a2'], ['ml-batch', 'embed-batch', 'embed-batch-5f7c9-4kq2x'], ['ml-batch', 'embed-batch', 'embed-batch-5f7c9-7wz8m']].map(([ns, deployment, pod]) => ({
          // The pod's IP and container port, as discovery gives them; the annotation moves the port.
          targets: ['127.0.0.1:8000'],
          labels: {
            __meta_kubernetes_namespace: ns!,
            __meta_kubernetes_pod_name: pod!,
            __meta_kubernetes_pod_label_app_kubernetes_io_name: deployment!,
            __meta_kubernetes_pod_annotation_prometheus_io_scrape: 'true',
            __meta_kubernetes_pod_annotation_prometheus_io_port: String(exporter.port),
            __meta_kubernetes_pod_annotation_prometheus_io_path: `/llm/${ns}/${pod}`,
          },
        })),
        // Not annotated for scraping: dropped.
        { targets: ['127.0.0.1:1'], labels: { __meta_kubernetes_namespace: 'ml-serving', __meta_kubernetes_pod_name: 'no-scrape', __meta_kubernetes_pod_label_app_kubernetes_io_name: 'llm-api' } },
      ],
    };
    scrapeJobsWithFileSd(read('deploy/prometheus/scrape-kubernetes.yml'), dir, groups);
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
    await api?.stop();
    await prom?.stop();
    await am?.stop();
    await receiver?.close();
    await exporter?.stop();
    await sim?.close();
    await redis?.stop();
  });

  it('each of the four alerts, end to end: fired by the shipped rules, acted on, verified; then nothing more', async () => {
    // Quiet values first: every target up and relabelled, no alert.
    exporter.gpus.set('gpu-node-1', { variant: 'Hostname', temps: [61, 63, 60, 62, 64, 59, 60, 61] });
    exporter.gpus.set('gpu-node-2', { variant: 'hostname', temps: [66, 65, 67, 64, 66, 65, 63, 62] });
    exporter.gpus.set('gpu-node-3', { variant: 'Hostname', temps: [58, 57, 59, 58, 60, 57, 58, 59] });
    exporter.gpus.set('gpu-node-4', { variant: 'nvidia_smi', temps: [55, 56, 54, 55, 57, 56, 55, 54] });
    exporter.containers.push({ namespace: 'ml-serving', pod: 'llm-api-7d9f8b6c5-x2kqp', container: 'llm-api', lastTerminatedReason: 'OOMKilled', restarts: 3 });
    for (const pod of ['llm-inference-786b6dc67b-a1', 'llm-inference-786b6dc67b-a2']) exporter.setLlm('ml-serving', pod, { rps: 40, latencySeconds: 0.4, active: 8 });
    for (const pod of ['embed-batch-5f7c9-4kq2x', 'embed-batch-5f7c9-7wz8m']) exporter.setLlm('ml-batch', pod, { rps: 20, latencySeconds: 0.3, active: 10 });

    const targets = await pollUntil(async () => {
      const t = await prom.activeTargets();
      return t.length >= 11 && t.every((x) => x.health === 'up') ? t : undefined;
    }, 'every relabelled target up', 30_000);
    const byJob = (job: string) => targets.filter((t) => t.labels.job === job);
    expect(byJob('dcgm-exporter').map((t) => t.labels.node).sort()).toEqual(['gpu-node-1', 'gpu-node-2', 'gpu-node-3']);
    expect(byJob('nvidia-gpu-exporter').map((t) => t.labels.node)).toEqual(['gpu-node-4']);
    expect(byJob('llm-serving').map((t) => `${t.labels.namespace}/${t.labels.deployment}/${t.labels.pod}`).sort()).toEqual([
      'ml-batch/embed-batch/embed-batch-5f7c9-4kq2x', 'ml-batch/embed-batch/embed-batch-5f7c9-7wz8m', 'ml-serving/llm-inference/llm-inference-786b6dc67b-a1', 'ml-serving/llm-inference/llm-inference-786b6dc67b-a2',
    ]);
    expect(byJob('remediator-api').map((t) => t.labels.pod)).toEqual(['remediator-api-6d5f7-x2x9q']);
    // Both DCGM label variants and the nvidia_smi series end up with `node`.
    const temps = await prom.query('max by (node) (DCGM_FI_DEV_GPU_TEMP) or max by (node) (nvidia_smi_temperature_gpu)');
    expect(temps.map((s) => s.metric.node).sort()).toEqual(['gpu-node-1', 'gpu-node-2', 'gpu-node-3', 'gpu-node-4']);

    // Now the faults: a hot GPU on gpu-node-2 (the `hostname` variant), an OOM kill with a restart,
    // slow llm-inference, saturated embed-batch.
    exporter.gpus.get('gpu-node-2')!.temps[3] = 93;
    exporter.containers[0]!.restarts = 4;
    for (const pod of ['llm-inference-786b6dc67b-a1', 'llm-inference-786b6dc67b-a2']) exporter.setLlm('ml-serving', pod, { rps: 40, latencySeconds: 3.5, active: 30 });
    for (const pod of ['embed-batch-5f7c9-4kq2x', 'embed-batch-5f7c9-7wz8m']) exporter.setLlm('ml-batch', pod, { rps: 20, latencySeconds: 0.3, active: 40 });

    // Each fault clears once its run succeeded, so its verification (within ÷ 60) can see it gone.
    const drain = await runOf('drain-gpu-node', 'node/gpu-node-2', (r) => r.status === 'succeeded', 'the drain of gpu-node-2');
    exporter.gpus.get('gpu-node-2')!.temps[3] = 70;
    const restart = await runOf('restart-oom-pod', 'deployment/ml-serving/llm-api', (r) => r.status === 'succeeded', 'the restart of llm-api');
    const scale = await runOf('scale-replicas', 'deployment/ml-serving/llm-inference', (r) => r.status === 'succeeded', 'the scale of llm-inference');
    for (const pod of ['llm-inference-786b6dc67b-a1', 'llm-inference-786b6dc67b-a2']) exporter.setLlm('ml-serving', pod, { rps: 40, latencySeconds: 0.4, active: 8 });
    const shadow = await runOf('scale-replicas', 'deployment/ml-batch/embed-batch', (r) => r.status === 'succeeded', 'the shadow scale of embed-batch');
    for (const pod of ['embed-batch-5f7c9-4kq2x', 'embed-batch-5f7c9-7wz8m']) exporter.setLlm('ml-batch', pod, { rps: 20, latencySeconds: 0.3, active: 10 });
    console.log(`chain: drain ${drain.reason}\nchain: restart ${restart.reason}\nchain: scale ${scale.reason}\nchain: shadow ${shadow.reason}`);
    expect(drain).toMatchObject({ trigger: { rule: 'drain-overheated-gpu-nodes', alert: { alertname: 'GPUNodeOverheating', labels: { node: 'gpu-node-2', severity: 'critical' } } }, precheck: { result: 'pass' }, changed: true });
    expect(restart).toMatchObject({ trigger: { rule: 'restart-oom-killed-pods', alert: { labels: { namespace: 'ml-serving', pod: 'llm-api-7d9f8b6c5-x2kqp', container: 'llm-api' } } }, changed: true });
    expect(scale).toMatchObject({ trigger: { rule: 'scale-up-on-high-latency', alert: { labels: { namespace: 'ml-serving', deployment: 'llm-inference' } } }, precheck: { result: 'pass' }, changed: true });
    // Shadow mode (the example's dryRun: true): the plan, nothing changed.
    expect(shadow).toMatchObject({ trigger: { rule: 'scale-up-on-saturation' }, dryRun: true, changed: false });
    expect(shadow.steps.filter((s) => s.action === 'scale').every((s) => s.result === 'dry_run')).toBe(true);

    // The faults cleared: the verifications resolve.
    for (const [name, run] of [['drain', drain], ['restart', restart], ['scale', scale]] as const) {
      const verified = await pollUntil(async () => {
        const r = (await runs()).find((x) => x.id === run.id)!;
        return r.verification && r.verification.result !== 'pending' ? r : undefined;
      }, `the ${name}'s verification`, 90_000);
      expect(verified.verification, name).toMatchObject({ result: 'resolved' });
    }

    // Nothing more: once Alertmanager holds no active alert of the four, no new run appears.
    await pollUntil(async () => ((await am.alerts()).filter((a) => a.status.state === 'active' && /GPUNodeOverheating|KubePodOOMKilled|LLMHighLatencyP95|LLMRequestSaturation/.test(a.labels.alertname ?? '')).length === 0 ? true : undefined), 'no active alert of the four', 60_000);
    const count = (await runs()).length;
    expect(count).toBe(4);

    // Prometheus scraped the api and worker processes through the shipped jobs.
    const actions = await pollUntil(async () => {
      const r = await prom.query('sum by (job, playbook, action, result) (remediator_actions_total{action=~"evict|scale|cordon|taint"}) > 0');
      return r.length >= 4 ? r : undefined;
    }, 'remediator_actions_total scraped', 30_000);
    const act = Object.fromEntries(actions.map((s) => [`${s.metric.job} ${s.metric.playbook} ${s.metric.action} ${s.metric.result}`, Number(s.value[1])]));
    console.log('chain: remediator_actions_total', JSON.stringify(act));
    expect(act['remediator-worker scale-replicas scale ok']).toBe(1);
    expect(act['remediator-worker scale-replicas scale dry_run']).toBe(1);
    expect(act['remediator-worker drain-gpu-node cordon ok']).toBe(1);
    expect(act['remediator-worker drain-gpu-node evict ok']).toBe(new Set(drain.steps.filter((s) => s.action === 'evict').map((s) => s.object)).size);
    const verifications = await pollUntil(async () => {
      const r = await prom.query('sum by (job, playbook, result) (remediator_verifications_total) > 0');
      return r.length >= 3 ? r : undefined;
    }, 'remediator_verifications_total scraped', 30_000);
    const ver = Object.fromEntries(verifications.map((s) => [`${s.metric.job} ${s.metric.playbook} ${s.metric.result}`, Number(s.value[1])]));
    console.log('chain: remediator_verifications_total', JSON.stringify(ver));
    expect(ver).toEqual({ 'remediator-worker drain-gpu-node resolved': 1, 'remediator-worker restart-oom-pod resolved': 1, 'remediator-worker scale-replicas resolved': 1 });
    // Under the shipped ClusterRole: nothing refused; the api made no Kubernetes request.
    const log = sim.authLog();
    expect(log.filter((r) => !r.allowed)).toEqual([]);
    expect(log.filter((r) => r.user.endsWith(':remediator-api'))).toEqual([]);
    expect(log.filter((r) => r.user.endsWith(':remediator-worker')).length).toBeGreaterThan(20);
    // The api process took the webhook.
    const received = await prom.query('sum by (job) (remediator_alerts_received_total{status="firing"}) > 0');
    expect(received.map((s) => s.metric.job)).toEqual(['remediator-api']);
  }, 300_000);
});
