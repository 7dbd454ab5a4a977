/**
 * The benchmark's fixture: a throw-away redis-server, Remediator's api role in-process (no worker;
 * the simulated cluster only satisfies the kubeconfig requirement, the api never calls it), the
 * naive receiver, each under its own key prefix, and a load generator in a worker thread.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { startRedisServer, type RedisServerHandle } from '../test/helpers/redis-server.js';
import { startSimCluster } from '../src/sim/sim-cluster.js';
import { simKubeconfigYaml } from '../src/sim/sim-kubeconfig.js';
import { validateConfigText } from '../src/config/load-config.js';
import { startRemediator, playbookMap } from '../src/composition-root.js';
import { createLogger } from '../src/observability/logger.js';
import { auditKeys } from '../src/audit/audit-keys.js';
import { playbooks } from '../playbooks/index.js';
import { startNaiveReceiver } from './naive-receiver.js';
import { matcherRulesYaml, NAIVE_RULES, REMEDIATOR_RULES_YAML } from './rules.js';
import { startLoadGenerator, type LoadGenerator } from './loadgen-client.js';

export const TOKEN = 'bench-am-token-0123456789';

export type ReceiverName = 'remediator' | 'naive' | 'inbox-on' | 'inbox-off' | 'acked' | 'unacked' | 'regex' | 'equality';
/**
 * `naive`: Remediator vs the naive receiver (suite webhook); `inbox`: Remediator with its alert
 * inbox on vs off (suite inbox); `replicas`: Remediator with `redis.minReplicasAcked: 1` vs 0, on a
 * primary with one replica (suite replicas); `matchers`: every rule matcher a regular expression vs
 * an equality, deciding the same (suite matchers).
 */
export type BenchPair = 'naive' | 'inbox' | 'replicas' | 'matchers';
export type PairNames<P extends BenchPair> = P extends 'naive' ? 'remediator' | 'naive' : P extends 'inbox' ? 'inbox-on' | 'inbox-off' : P extends 'matchers' ? 'regex' | 'equality' : 'acked' | 'unacked';

export interface Receiver {
  name: ReceiverName;
  url: string;
  prefix: string;
  /** Next fresh notification seq for this receiver (both walk the same sequence). */
  freshNext: number;
  /** Jobs in this receiver's BullMQ queue, all states. */
  jobCount(): Promise<number>;
}

export interface BenchEnv<N extends ReceiverName = 'remediator' | 'naive'> {
  redisServer: RedisServerHandle;
  /** The bench's own connection (counting, INFO); never used by a receiver. */
  redis: Redis;
  /** The receivers now running (replaced by `reset`). */
  readonly receivers: Record<N, Receiver>;
  loadgen: LoadGenerator;
  /** Waits until Remediator's audit sealer has chained every entry; returns the ms waited. */
  waitSealed(): Promise<number>;
  /**
   * Stops both receivers, empties Redis and starts both again under new prefixes, so a scenario
   * starts from a clean state and is not charged for the runs an earlier one created (the
   * periodic sweep of RunControl scans every run of the last guards.maxQueueAge).
   */
  reset(): Promise<void>;
  close(): Promise<void>;
}

interface Running<N extends ReceiverName> {
  receivers: Record<N, Receiver>;
  counters: Queue[];
  rPrefix: string;
  stop(): Promise<void>;
}

export async function startBenchEnv<P extends BenchPair = 'naive'>(opts: { logLevel: string; pair?: P }): Promise<BenchEnv<PairNames<P>>> {
  type N = PairNames<P>;
  const pair: BenchPair = opts.pair ?? 'naive';
  const redisServer = await startRedisServer();
  // Suite replicas: one replica of the bench's Redis, synced before anything is measured.
  const replica = pair === 'replicas' ? await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(redisServer.port), '--repl-diskless-load', 'on-empty-db'] }) : undefined;
  const sim = await startSimCluster({ port: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'remediator-bench-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, simKubeconfigYaml(sim.url));
  const keyFile = join(dir, 'audit-key');
  writeFileSync(keyFile, randomBytes(32).toString('hex'));
  const auditKey = readFileSync(keyFile);
  // As in production, every audit entry is also a log line (level info); written to /dev/null.
  const logger = createLogger({ level: opts.logLevel, destination: pino.destination({ dest: '/dev/null', sync: true }) });
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null, connectionName: 'bench' });
  if (replica) {
    const deadline = Date.now() + 20_000;
    while (!/slave0:.*state=online/.test(await redis.info('replication'))) {
      if (Date.now() > deadline) throw new Error('the bench replica did not come online within 20 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const remediatorConfig = (rPrefix: string, minReplicasAcked = 0, rules = REMEDIATOR_RULES_YAML) =>
    validateConfigText(
      `
server: { port: 8080, bodyLimit: 5mb, shutdownGraceSeconds: 5 }
redis: { url: '${redisServer.url}', prefix: '${rPrefix}', minReplicasAcked: ${minReplicasAcked} }
kubernetes: { kubeconfig: '${kubeconfig}', requestTimeoutSeconds: 5 }
auth:
  tokens:
    - { name: alertmanager, role: alertmanager, token: ${TOKEN} }
    - { name: viewer, role: viewer, token: bench-viewer-token-0123456789 }
audit: { keyFile: '${keyFile}' }
${rules}
`,
      join(dir, 'remediator.yaml'),
      playbookMap(playbooks),
      { env: {} },
    );

  const startReceivers = async (): Promise<Running<N>> => {
    const rPrefix = `bench-r-${randomBytes(3).toString('hex')}`;
    const nPrefix = `bench-n-${randomBytes(3).toString('hex')}`;
    const rules = pair === 'matchers' ? matcherRulesYaml('regex') : REMEDIATOR_RULES_YAML;
    const remediator = await startRemediator({ config: remediatorConfig(rPrefix, pair === 'replicas' ? 1 : 0, rules), role: 'api', auditKey, logger, port: 0, host: '127.0.0.1' });
    // Suite inbox: a second Remediator, identical but for its intake writing no alert inbox.
    // Suite replicas: a second Remediator, identical but for not waiting for the replica.
    const other =
      pair === 'inbox'
        ? await startRemediator({ config: remediatorConfig(nPrefix), role: 'api', auditKey, logger, port: 0, host: '127.0.0.1', inbox: false })
        : pair === 'replicas'
          ? await startRemediator({ config: remediatorConfig(nPrefix, 0), role: 'api', auditKey, logger, port: 0, host: '127.0.0.1' })
          : pair === 'matchers'
            ? await startRemediator({ config: remediatorConfig(nPrefix, 0, matcherRulesYaml('equality')), role: 'api', auditKey, logger, port: 0, host: '127.0.0.1' })
            : await startNaiveReceiver({ redisUrl: redisServer.url, prefix: nPrefix, rules: NAIVE_RULES, token: TOKEN });
    const counters: Queue[] = [];
    const receiver = (name: ReceiverName, url: string, prefix: string): Receiver => {
      const counter = new Queue('jobs', { connection: redis, prefix: `{${prefix}}` });
      counters.push(counter);
      return {
        name,
        url,
        prefix,
        freshNext: 0,
        async jobCount() {
          const c = await counter.getJobCounts('waiting', 'delayed', 'prioritized', 'active', 'completed', 'failed', 'waiting-children');
          return Object.values(c).reduce((a, b) => a + b, 0);
        },
      };
    };
    const receivers =
      pair === 'inbox'
        ? { 'inbox-on': receiver('inbox-on', remediator.url, rPrefix), 'inbox-off': receiver('inbox-off', other.url, nPrefix) }
        : pair === 'replicas'
          ? { acked: receiver('acked', remediator.url, rPrefix), unacked: receiver('unacked', other.url, nPrefix) }
          : pair === 'matchers'
            ? { regex: receiver('regex', remediator.url, rPrefix), equality: receiver('equality', other.url, nPrefix) }
            : { remediator: receiver('remediator', remediator.url, rPrefix), naive: receiver('naive', other.url, nPrefix) };
    return {
      receivers: receivers as Record<N, Receiver>,
      counters,
      rPrefix,
      async stop() {
        await Promise.allSettled(counters.map((c) => c.close()));
        if ('stop' in other) await other.stop();
        else await other.close();
        await remediator.stop();
      },
    };
  };

  let running = await startReceivers();
  const loadgen = await startLoadGenerator();

  return {
    redisServer,
    redis,
    get receivers() {
      return running.receivers;
    },
    loadgen,
    async waitSealed() {
      // The audit sealer runs on worker processes (role worker/all), not on the api being measured.
      return 0;
    },
    async reset() {
      await running.stop();
      await redis.flushall();
      running = await startReceivers();
    },
    async close() {
      await loadgen.close();
      await running.stop();
      await redis.quit();
      await sim.close();
      await replica?.stop();
      await redisServer.stop();
    },
  };
}
