import { createServer, type Server } from 'node:http';
import { HttpDrain } from './http/http-drain.js';
import { ReplayCache } from './engine/replay-cache.js';
import { shutdownPlan, withinDeadline } from './engine/shutdown-plan.js';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { createRedisClient, describeRedis } from './redis/create-redis-client.js';
import { ReplicaFence } from './redis/replica-fence.js';
import type { Logger } from 'pino';
import type { LoadedConfig } from './config/loaded-config.js';
import type { ClusterClient } from './kube/cluster-client.js';
import { ClientNodeCluster } from './kube/client-node-cluster.js';
import { loadKubeConfig } from './kube/load-kube-config.js';
import { Metrics } from './observability/metrics.js';
import { createLogger } from './observability/logger.js';
import { RedisKeys } from './engine/redis-keys.js';
import { AlertIntake } from './engine/alert-intake.js';
import { AlertSimulator } from './engine/alert-simulator.js';
import { RunStore } from './engine/run-store.js';
import { GuardStore } from './engine/guard-store.js';
import { RunExecutor } from './engine/run-executor.js';
import { RunControl } from './engine/run-control.js';
import { RunSweeper } from './engine/run-sweeper.js';
import { ManualRuns } from './engine/manual-runs.js';
import { PauseControl } from './engine/pause-control.js';
import type { AnyPlaybook } from './engine/playbook.js';
import type { EngineRule } from './engine/engine-rule.js';
import { matchRules } from './alertmanager/rule-matcher.js';
import { episodeKey } from './alertmanager/episode-key.js';
import { AlertInbox } from './engine/alert-inbox.js';
import { RunQueue } from './queue/run-queue.js';
import { VerifyQueue, VerifyWorker } from './queue/verify-queue.js';
import { RunVerifier } from './engine/run-verifier.js';
import { RunEscalator } from './engine/run-escalator.js';
import { NO_NOTIFICATIONS, type NotificationSink } from './engine/notification-sink.js';
import { NotificationQueue, NotificationWorker } from './queue/notification-queue.js';
import { PrometheusClient } from './clients/prometheus-client.js';
import { AlertmanagerClient } from './clients/alertmanager-client.js';
import { RunWorker } from './queue/run-worker.js';
import { RedisAuditLog } from './audit/redis-audit-log.js';
import { AuditSealer } from './audit/audit-sealer.js';
import { TokenAuth } from './http/auth.js';
import { AuthFailureLog } from './http/auth-failure-log.js';
import { createApp } from './http/create-app.js';
import { playbooks as builtinPlaybooks } from '../playbooks/index.js';
import { VERSION } from './version.js';

export type Role = 'all' | 'api' | 'worker';

/** A verification still pending this long after its deadline lost its next check job: the sweeper makes the last one. */
const VERIFY_OVERDUE_GRACE_MS = 30_000;

export { VERSION } from './version.js';

export interface RemediatorOptions {
  config: LoadedConfig;
  role: Role;
  /** The HMAC key for the audit chain, read from `audit.keyFile` by the caller. */
  auditKey: Buffer;
  logger?: Logger;
  playbooks?: readonly AnyPlaybook[];
  /** Port to listen on; defaults to `server.port`. 0 picks a free one. */
  port?: number;
  host?: string;
  /** Interval of the sealer; tests shorten it. */
  sealIntervalMs?: number;
  /** Interval of the sweeper: approval expiry, stranded runs (default 5 s). */
  sweepIntervalMs?: number;
  /** Base delay of the notification retries' exponential backoff (default 2 s); tests shorten it. */
  notifyBackoffMs?: number;
  /** `false`: the intake writes no alert inbox. A benchmark baseline only (bench/run.ts, suite `inbox`), not a config key. */
  inbox?: false;
}

export interface Remediator {
  readonly port: number;
  readonly url: string;
  readonly metrics: Metrics;
  readonly runs: RunStore;
  readonly redis: Redis;
  readonly keys: RedisKeys;
  readonly audit: RedisAuditLog;
  readonly control: RunControl;
  /** Stops intake, lets running steps finish within `shutdownGraceSeconds`, closes everything. */
  stop(): Promise<void>;
}

export function playbookMap(list: readonly AnyPlaybook[]): Map<string, AnyPlaybook> {
  return new Map(list.map((p) => [p.name, p]));
}

/** WAIT's bound: below the command timeout and the webhook's 1.8 s deadline, so a lagging replica yields a 503 in time. */
const REPLICA_ACK_TIMEOUT_MS = 1000;

/** At start-up: a minReplicasAcked the primary cannot meet refuses every notification; say so once. */
async function warnAboutReplicas(redis: Redis, min: number, logger: Logger): Promise<void> {
  const info = await redis.info('replication').catch(() => '');
  const connected = Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? NaN);
  if (Number.isFinite(connected) && connected < min) {
    logger.error({ minReplicasAcked: min, connectedReplicas: connected }, 'redis.minReplicasAcked asks for more replicas than the primary has: the webhook answers 503 until enough replicas are connected');
  }
}

function waitReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis not reachable within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}

export function createCluster(config: LoadedConfig, metrics: Metrics, env: NodeJS.ProcessEnv = process.env): { cluster: ClusterClient; source: string } {
  const opts: Parameters<typeof loadKubeConfig>[0] = { env };
  if (config.kubernetes.kubeconfig) opts.kubeconfig = config.kubernetes.kubeconfig;
  if (config.kubernetes.context) opts.context = config.kubernetes.context;
  const { kc, source } = loadKubeConfig(opts);
  const cluster = new ClientNodeCluster({ kc, requestTimeoutMs: config.kubernetes.requestTimeoutSeconds * 1000, observe: metrics.observeKubeRequest });
  return { cluster, source };
}

/** The one place that constructs everything. */
export async function startRemediator(options: RemediatorOptions): Promise<Remediator> {
  const { config, role } = options;
  const logger = options.logger ?? createLogger();
  const playbookList = options.playbooks ?? builtinPlaybooks;
  const playbooks = playbookMap(playbookList);
  const rules = config.rules;
  const ruleMap = new Map<string, EngineRule>(rules.map((r) => [r.name, r]));
  const metrics = new Metrics({ version: VERSION, playbooks: [...playbooks.keys()], rules: rules.map((r) => r.name), channels: config.notifications.map((n) => n.name) });
  const keys = new RedisKeys(config.redis.prefix);
  const runsApi = role !== 'worker';
  const runsWorker = role !== 'api';

  const { cluster, source: kubeSource } = createCluster(config, metrics);
  logger.info({ role, kube: kubeSource, redis: describeRedis(config.redis.connection), dryRun: config.dryRun }, 'starting remediator');

  const redis = createRedisClient(config.redis.connection, 'command', `remediator-${role}`);
  redis.on('error', (err) => logger.debug({ err }, 'redis connection error'));
  const queueRedis = createRedisClient(config.redis.connection, 'command', `remediator-${role}-queue`);
  queueRedis.on('error', () => undefined);
  await Promise.all([waitReady(redis, 10_000), waitReady(queueRedis, 10_000)]);

  // redis.minReplicasAcked: WAIT blocks the connection it runs on, so it gets one of its own.
  const replicasAcked = config.redis.minReplicasAcked;
  const fenceRedis = replicasAcked > 0 ? createRedisClient(config.redis.connection, 'command', `remediator-${role}-fence`) : undefined;
  if (fenceRedis) {
    fenceRedis.on('error', () => undefined);
    await waitReady(fenceRedis, 10_000).catch((err: unknown) => {
      for (const c of [redis, queueRedis, fenceRedis]) c.disconnect();
      throw err;
    });
    await warnAboutReplicas(fenceRedis, replicasAcked, logger);
  }
  const replicaFence = fenceRedis ? new ReplicaFence(fenceRedis, keys.replicationFence, replicasAcked, REPLICA_ACK_TIMEOUT_MS) : undefined;

  const audit = new RedisAuditLog({ redis, prefix: config.redis.prefix, logger });
  const sealer = new AuditSealer({
    redis,
    prefix: config.redis.prefix,
    key: options.auditKey,
    logger,
    intervalMs: options.sealIntervalMs ?? 1000,
    retention: { maxAgeMs: config.audit.maxAgeMs, maxEntries: config.audit.maxEntries },
  });
  const runs = new RunStore(redis, keys, (entries) => audit.logWritten(entries));
  const guards = new GuardStore(redis, keys);
  const queue = new RunQueue(queueRedis, keys.bullPrefix);
  // The engine writes audit entries as plain objects; the audit log's own types check their shape.
  const auditPort = {
    append: (entries: object[]) => audit.append(entries as never),
    logWritten: (entries: object[]) => audit.logWritten(entries),
  };
  const control = new RunControl({ redis, keys, runs, enqueuer: queue, metrics, audit: auditPort });
  const manualRuns = new ManualRuns({ redis, keys, playbooks, guards: config.guards, prometheus: config.prometheus !== undefined, globalDryRun: config.dryRun, runRetentionMs: config.runs.retentionMs, enqueuer: queue, metrics, audit: auditPort });
  const pauses = new PauseControl({ redis, keys, playbooks, metrics, audit: auditPort });

  const prometheus = config.prometheus ? new PrometheusClient(config.prometheus) : undefined;
  const alertmanager = config.alertmanager ? new AlertmanagerClient(config.alertmanager) : undefined;
  const verifyQueue = new VerifyQueue(queueRedis, keys.bullPrefix);
  const runLink = (runId: string) => (config.ui.externalUrl ? `${config.ui.externalUrl}/ui/#/runs/${runId}` : `/ui/#/runs/${runId} (set ui.externalUrl for a full link)`);
  const notificationQueue = config.notifications.length > 0 ? new NotificationQueue(queueRedis, keys.bullPrefix, { logger, ...(options.notifyBackoffMs !== undefined ? { backoffMs: options.notifyBackoffMs } : {}) }) : undefined;
  const notifications: NotificationSink = notificationQueue ?? NO_NOTIFICATIONS;
  const escalator = new RunEscalator({
    redis,
    keys,
    playbooks,
    rules: ruleMap,
    enqueuer: queue,
    notifications,
    metrics,
    audit: auditPort,
    logger,
    globalDryRun: config.dryRun,
    runRetentionMs: config.runs.retentionMs,
  });
  const verifier = new RunVerifier({
    escalator,
    redis,
    keys,
    runs,
    ...(prometheus ? { prometheus } : {}),
    ...(alertmanager ? { alertmanager } : {}),
    scheduler: verifyQueue,
    metrics,
    logger,
    runLink,
  });

  let worker: RunWorker | undefined;
  let verifyWorker: VerifyWorker | undefined;
  let notifyWorker: NotificationWorker | undefined;
  let workerRedis: Redis | undefined;
  if (runsWorker) {
    workerRedis = createRedisClient(config.redis.connection, 'blocking', 'remediator-worker');
    workerRedis.on('error', () => undefined);
    const executor = new RunExecutor({
      runs,
      guards,
      cluster,
      playbooks,
      rules: ruleMap,
      guardConfig: config.guards,
      globalDryRun: config.dryRun,
      ...(prometheus ? { prometheus } : {}),
      verifier,
      escalator,
      notifications,
      audit: auditPort,
      metrics,
      logger,
      ...(replicaFence ? { replicas: replicaFence } : {}),
    });
    worker = new RunWorker({ connection: workerRedis, prefix: keys.bullPrefix, executor, concurrency: config.guards.maxConcurrentRuns, logger });
    verifyWorker = new VerifyWorker({ connection: workerRedis, prefix: keys.bullPrefix, check: (runId, check) => verifier.check(runId, check), logger });
    if (config.notifications.length > 0) {
      notifyWorker = new NotificationWorker({ connection: workerRedis, prefix: keys.bullPrefix, channels: config.notifications, runs, audit: auditPort, metrics, logger, runLink });
    }
  }

  const inbox = new AlertInbox(redis, keys);
  const authFailures = new AuthFailureLog(async (entries) => audit.append(entries as never));
  const replays = runsApi ? new ReplayCache(redis, (episode) => keys.episode(episode)) : undefined;
  const intake = runsApi
    ? new AlertIntake({
        redis,
        ...(replays ? { replays } : {}),
        ...(replicaFence ? { replicas: replicaFence } : {}),
        keys,
        playbooks,
        matchRules: (labels) => matchRules(rules, labels),
        episodeKey,
        guards: config.guards,
        globalDryRun: config.dryRun,
        runRetentionMs: config.runs.retentionMs,
        enqueuer: queue,
        metrics,
        audit,
        notifications,
        ...(options.inbox === false ? { inbox: false } : {}),
      })
    : undefined;
  let drain: HttpDrain | undefined;
  const app = createApp({
    logger,
    metrics,
    ready: async () => {
      const checks: Record<string, string> = {};
      let ok = true;
      try {
        await redis.ping();
        checks.redis = 'ok';
      } catch (err) {
        ok = false;
        checks.redis = (err as Error).message;
      }
      if (fenceRedis) {
        // The WAIT connection (redis.minReplicasAcked): the webhook answers 503 while this is down.
        try {
          await fenceRedis.ping();
          checks.redisReplicaFence = 'ok';
        } catch (err) {
          ok = false;
          checks.redisReplicaFence = (err as Error).message;
        }
      }
      if (runsWorker) {
        try {
          checks.kubernetes = await cluster.ping();
        } catch (err) {
          ok = false;
          checks.kubernetes = (err as Error).message;
        }
      }
      return { ok, checks };
    },
    onScrape: () => refreshGauges(),
    shuttingDown: () => drain?.shuttingDown() ?? false,
    ...(runsApi
      ? {
          api: {
            auth: new TokenAuth(config.auth.tokens, authFailures),
            intake: intake!,
            inbox,
            simulator: new AlertSimulator({ redis, keys, rules, playbooks, guards: config.guards, episodeKey, globalDryRun: config.dryRun }),
            runs,
            playbooks,
            control,
            manualRuns,
            pauses,
            status: async () => ({ version: VERSION, role, dryRun: config.dryRun, paused: await pauses.pauseState() }),
            bodyLimit: config.server.bodyLimit,
            redisUp: () => redis.status === 'ready' && (fenceRedis === undefined || fenceRedis.status === 'ready'),
            audit: { redis, prefix: config.redis.prefix, key: options.auditKey, retention: { maxAgeMs: config.audit.maxAgeMs, maxEntries: config.audit.maxEntries } },
          },
        }
      : {}),
  });

  async function refreshGauges(): Promise<void> {
    try {
      const counts = await queue.counts();
      for (const [state, n] of Object.entries(counts)) metrics.queueJobs.set({ state }, n);
      metrics.queueJobs.set({ state: 'awaiting_approval' }, await control.awaitingCount());
      // Every sealed entry still in the stream has its seal; the rest wait for the sealer.
      const [length, seals] = await Promise.all([redis.xlen(audit.keys.stream), redis.hlen(audit.keys.seals)]);
      metrics.auditUnsealed.set(Math.max(0, length - seals));
      const paused = await redis.hkeys(keys.pause);
      metrics.paused.set({ scope: 'global' }, paused.includes('global') ? 1 : 0);
      for (const name of playbooks.keys()) metrics.paused.set({ scope: name }, paused.includes(`playbook:${name}`) ? 1 : 0);
    } catch (err) {
      logger.debug({ err }, 'gauge refresh failed');
    }
  }

  const server: Server = createServer(app);
  server.keepAliveTimeout = 65_000;
  drain = new HttpDrain(server);
  const http = drain;
  const port = options.port ?? config.server.port;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, options.host ?? '0.0.0.0', () => resolve());
  });
  const boundPort = (server.address() as AddressInfo).port;

  // The sealer runs where the playbooks run, keeping HMAC work off the webhook's processes.
  if (runsWorker) sealer.start();
  if (worker) {
    await worker.waitUntilReady();
    worker.start();
  }
  if (verifyWorker) {
    await verifyWorker.waitUntilReady();
    verifyWorker.start();
  }
  if (notifyWorker) {
    await notifyWorker.waitUntilReady();
    notifyWorker.start();
  }
  const gaugeTimer = setInterval(() => void refreshGauges(), 5000);
  gaugeTimer.unref();
  // No run is left behind: every process takes part, one at a time (elected), each step is atomic.
  const sweeper = new RunSweeper({
    redis,
    keys,
    runs,
    guards: config.guards,
    runRetentionMs: config.runs.retentionMs,
    enqueuer: queue,
    metrics,
    logger,
    ...(replicaFence ? { replicas: replicaFence } : {}),
    // Whichever process holds the sweep trims the inbox, a worker as well as an api.
    inbox,
  });
  const sweepTimer = setInterval(() => {
    sweeper
      .expireApprovals()
      .then(() => sweeper.sweep())
      // A verification whose next check was lost gets its last one once its deadline has passed.
      .then(() => (runsWorker ? verifier.finishOverdue(VERIFY_OVERDUE_GRACE_MS) : 0))
      .catch((err: unknown) => logger.debug({ err }, 'sweep failed'));
  }, options.sweepIntervalMs ?? 5000);
  sweepTimer.unref();
  logger.info({ port: boundPort, role }, 'remediator listening');

  let stopping: Promise<void> | undefined;
  return {
    port: boundPort,
    url: `http://127.0.0.1:${boundPort}`,
    metrics,
    runs,
    redis,
    keys,
    audit,
    control,
    stop: () =>
      (stopping ??= (async () => {
        const plan = shutdownPlan(config.server.shutdownGraceSeconds * 1000, Date.now());
        clearInterval(gaugeTimer);
        clearInterval(sweepTimer);
        // New requests get 503 from here on; those in flight finish while running steps do.
        http.begin();
        await withinDeadline(intake?.stop().catch(() => undefined), plan.abortAt);
        const workers = [
          worker?.close(plan.abortAt - Date.now(), plan.closedBy - plan.abortAt),
          verifyWorker?.close(plan.abortAt - Date.now(), plan.closedBy - plan.abortAt),
          notifyWorker?.close(Math.min(5000, plan.abortAt - Date.now()), plan.closedBy - plan.abortAt),
        ];
        const requests = http.settle(plan.closedBy);
        await Promise.all([...workers, requests]);
        await withinDeadline(authFailures.stop(), plan.closedBy);
        await withinDeadline(Promise.allSettled([sealer.stop(), queue.close(), verifyQueue.close(), notificationQueue?.close()]), plan.quitBy);
        await withinDeadline(http.close(), plan.quitBy);
        // quit() waits for a reply that never comes while Redis is down; disconnect at the bound.
        const connections = [redis, queueRedis, workerRedis, fenceRedis].filter((c): c is Redis => c !== undefined);
        await withinDeadline(Promise.allSettled(connections.map((c) => c.quit())), plan.deadline);
        for (const c of connections) c.disconnect();
        logger.info({ ms: Date.now() - plan.startedAt, graceMs: config.server.shutdownGraceSeconds * 1000 }, 'remediator stopped');
      })()),
  };
}
