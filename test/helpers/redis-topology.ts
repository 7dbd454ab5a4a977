/**
 * Real Redis topologies for tests, from the `redis-server` on PATH (Debian's 7.0): a Redis Cluster
 * of N primaries, and a Sentinel set (one primary, N replicas, M sentinels) that can be failed over.
 *
 * Same rules as ./redis-server.ts: every child is tracked and SIGKILLed when the test process exits,
 * every wait polls with a deadline and fails with what the servers said, persistence is off, all
 * servers bind 127.0.0.1, and each process has its own temp dir, removed on stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { atTestExit, freePort, trackChild, waitForExit } from './redis-server.js';

export interface RedisClusterHandle {
  /** '127.0.0.1:port' of every node, all primaries. */
  readonly nodes: string[];
  readonly ports: number[];
  /** The node processes (for tests that check they are gone after stop). */
  readonly processes: readonly ChildProcess[];
  /** The nodes' temp dirs (removed by stop). */
  readonly dirs: readonly string[];
  /** Stops every node and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface RedisSentinelHandle {
  /** The monitored master's name, as clients pass it (`name` in ioredis). */
  readonly name: string;
  /** '127.0.0.1:port' of every sentinel. */
  readonly sentinels: string[];
  /** Every process of the set: primary, replicas, then sentinels. */
  readonly processes: readonly ChildProcess[];
  /** Their temp dirs (removed by stop). */
  readonly dirs: readonly string[];
  /** The current primary's port, as a sentinel reports it (SENTINEL get-master-addr-by-name). */
  primaryPort(): Promise<number>;
  /** SIGKILLs the current primary's process and waits for it to exit; returns its port. */
  killPrimary(): Promise<number>;
  /**
   * Polls until every live sentinel names the same primary other than oldPort, and that server
   * answers ROLE as master with at least one online replica (the survivors were re-pointed to it).
   * Returns its port.
   */
  waitForFailover(oldPort: number, timeoutMs: number): Promise<number>;
  /** Stops sentinels first (so they fail nothing over), then the data nodes; removes the temp dirs. Idempotent. */
  stop(): Promise<void>;
}

const STARTUP_DEADLINE_MS = 10_000;
const CONVERGE_DEADLINE_MS = 20_000;
const STOP_DEADLINE_MS = 5_000;
const POLL_MS = 50;
const OUTPUT_TAIL_CHARS = 16_384;
const CLUSTER_SLOTS = 16_384;

// ---------------------------------------------------------------------------------------------
// Processes

interface Proc {
  readonly label: string;
  readonly port: number;
  /** port first, then any other ports it was given (a cluster node's bus port). */
  readonly ports: readonly number[];
  readonly dir: string;
  readonly child: ChildProcess;
  /** The last OUTPUT_TAIL_CHARS of the process's stdout+stderr. */
  output(): string;
}

// Temp dirs of a crashed test run are removed when it exits (its children are killed: trackChild).
const liveDirs = new Set<string>();
atTestExit(() => {
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
});

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Ports free at the time of asking, distinct from each other and from `taken`. */
async function freePorts(n: number, taken: Set<number> = new Set()): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) {
    const p = await freePort();
    if (taken.has(p) || ports.includes(p)) continue;
    ports.push(p);
  }
  return ports;
}

/**
 * Spawns `redis-server args…` (a data node or, with --sentinel, a sentinel) and resolves once it
 * answers PING on `port`. On failure the process is killed and the error carries its output.
 */
async function spawnRedis(label: string, ports: number[], dir: string, args: string[]): Promise<Proc> {
  const port = ports[0]!;
  const child = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  let output = '';
  const collect = (d: Buffer): void => {
    // Kept (a bounded tail) to explain a failed start or a topology that does not converge.
    output += d.toString('utf8');
    if (output.length > 2 * OUTPUT_TAIL_CHARS) output = output.slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });
  const proc: Proc = { label, port, ports, dir, child, output: () => output.slice(-OUTPUT_TAIL_CHARS).trim() };

  const deadline = Date.now() + STARTUP_DEADLINE_MS;
  for (;;) {
    if (spawnError) throw new Error(`${label}: redis-server failed to spawn: ${spawnError.message}`);
    if (exited(child)) throw new Error(`${label} on port ${port} exited during startup: ${proc.output()}`);
    if (await ping(port)) return proc;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await waitForExit(child, STOP_DEADLINE_MS);
      throw new Error(`${label} on port ${port} did not answer PING within ${STARTUP_DEADLINE_MS}ms: ${proc.output()}`);
    }
    await sleep(20);
  }
}

/**
 * Makes a temp dir and starts a process in it on fresh ports; a port lost to someone else between
 * asking and binding makes the process exit, and then it is tried again on other ports.
 * `build` gets the dir and the ports and returns redis-server's arguments (it may write files).
 */
async function startProc(
  label: string,
  nPorts: number,
  taken: Set<number>,
  build: (dir: string, ports: number[]) => Promise<string[]> | string[],
): Promise<Proc> {
  const dir = await mkdtemp(join(tmpdir(), 'redis-topology-'));
  liveDirs.add(dir);
  for (let attempt = 0; ; attempt++) {
    const ports = await freePorts(nPorts, taken);
    try {
      const proc = await spawnRedis(label, ports, dir, await build(dir, ports));
      for (const p of ports) taken.add(p);
      return proc;
    } catch (err) {
      if (attempt >= 2) {
        await removeDir(dir);
        throw err;
      }
    }
  }
}

async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  liveDirs.delete(dir);
}

/** SIGTERM (SIGKILL after a deadline), wait for the exit, remove the temp dir. */
async function stopProc(proc: Proc): Promise<void> {
  const { child } = proc;
  if (!exited(child)) {
    child.kill('SIGTERM'); // save "" and shutdown-timeout 0: redis exits at once, writing nothing
    if (!(await waitForExit(child, STOP_DEADLINE_MS))) {
      child.kill('SIGKILL');
      await waitForExit(child, STOP_DEADLINE_MS);
    }
  }
  await removeDir(proc.dir);
}

/** Starts all `count` processes in parallel; if any fails, stops the others and rethrows. */
async function startAll(count: number, start: (i: number) => Promise<Proc>): Promise<Proc[]> {
  const results = await Promise.allSettled(Array.from({ length: count }, (_, i) => start(i)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(results.map((r) => (r.status === 'fulfilled' ? stopProc(r.value) : undefined)));
    throw failed.reason;
  }
  return results.map((r) => (r as PromiseFulfilledResult<Proc>).value);
}

function outputs(procs: readonly Proc[]): string {
  return procs.map((p) => `--- ${p.label} (port ${p.port}) ---\n${p.output()}`).join('\n');
}

/** Common data-node settings: loopback only, nothing on disk, quick SIGTERM. */
function dataNodeArgs(port: number, dir: string): string[] {
  return [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--dir', dir,
    '--loglevel', 'notice',
    // Redis 7 waits up to 10 s on SIGTERM for lagging replicas; tests do not want that.
    '--shutdown-timeout', '0',
  ];
}

// ---------------------------------------------------------------------------------------------
// Talking to servers

/** One PING; true on PONG, false on anything else (refused, LOADING…). */
function ping(port: number, timeoutMs = 500): Promise<boolean> {
  return command(port, ['PING'], timeoutMs).then(
    (r) => r === 'PONG',
    () => false,
  );
}

/** One command on a fresh connection that neither retries nor queues; rejects on any failure. */
async function command(port: number, args: (string | number)[], timeoutMs = 1000): Promise<unknown> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
  });
  client.on('error', () => {}); // refusals surface as the rejected promise below
  try {
    await client.connect();
    const [cmd, ...rest] = args;
    return await client.call(String(cmd), ...rest);
  } finally {
    client.disconnect();
  }
}

/** An INFO-style 'field:value' per line reply (INFO, CLUSTER INFO) as a map. */
function infoText(text: unknown): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of String(text).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) fields.set(line.slice(0, i), line.slice(i + 1));
  }
  return fields;
}

async function infoFields(port: number, section: string): Promise<Map<string, string>> {
  return infoText(await command(port, ['INFO', section]));
}

/** A flat [field, value, field, value…] reply as a map. */
function pairs(reply: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out.set(String(reply[i]), String(reply[i + 1]));
  return out;
}

/**
 * Polls `check` until it returns a value (not undefined) or the deadline passes; then throws an
 * error with `describe()`'s account of the last state. Errors thrown by `check` count as "not yet".
 */
async function pollUntil<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
  describe: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`${what} within ${timeoutMs}ms${why}\n${describe()}`);
    }
    await sleep(POLL_MS);
  }
}

// ---------------------------------------------------------------------------------------------
// Cluster

/**
 * Starts `primaries` cluster-enabled redis-servers (no replicas), assigns the 16384 slots evenly
 * (CLUSTER ADDSLOTSRANGE, distinct config epochs, CLUSTER MEET), and resolves once every node
 * reports cluster_state:ok, knows every other node, and returns the same full slot map.
 */
export async function startRedisCluster(opts: { primaries?: number } = {}): Promise<RedisClusterHandle> {
  const n = opts.primaries ?? 3;
  if (!Number.isInteger(n) || n < 1) throw new Error(`primaries must be a positive integer, got ${n}`);
  const taken = new Set<number>();
  // The cluster bus normally listens on port+10000, which can be past 65535 for an ephemeral
  // port; each node gets its own free bus port instead (cluster-port, Redis 7).
  const procs = await startAll(n, (i) =>
    startProc(`cluster node ${i}`, 2, taken, (dir, [port, busPort]) => [
      ...dataNodeArgs(port!, dir),
      '--cluster-enabled', 'yes',
      '--cluster-config-file', join(dir, 'nodes.conf'),
      '--cluster-node-timeout', '2000',
      '--cluster-port', String(busPort!),
      '--cluster-announce-ip', '127.0.0.1',
    ]),
  );

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= Promise.all(procs.map(stopProc)).then(() => undefined));

  try {
    await Promise.all(
      procs.map(async (p, i) => {
        const first = Math.floor((i * CLUSTER_SLOTS) / n);
        const last = Math.floor(((i + 1) * CLUSTER_SLOTS) / n) - 1;
        // Distinct epochs up front, as redis-cli --cluster create does, so no epoch collision
        // has to be resolved before the nodes agree.
        await command(p.port, ['CLUSTER', 'SET-CONFIG-EPOCH', i + 1]);
        await command(p.port, ['CLUSTER', 'ADDSLOTSRANGE', first, last]);
      }),
    );
    for (let i = 1; i < n; i++) {
      await command(procs[0]!.port, ['CLUSTER', 'MEET', '127.0.0.1', procs[i]!.port, procs[i]!.ports[1]!]);
    }

    const expected = procs
      .map((p, i) => `${Math.floor((i * CLUSTER_SLOTS) / n)}-${Math.floor(((i + 1) * CLUSTER_SLOTS) / n) - 1}@127.0.0.1:${p.port}`)
      .join(',');
    const lastSeen = new Map<number, string>();
    await pollUntil(
      `redis cluster of ${n} did not converge (every node cluster_state:ok and the same slot map)`,
      CONVERGE_DEADLINE_MS,
      async () => {
        let ok = true;
        for (const p of procs) {
          const info = infoText(await command(p.port, ['CLUSTER', 'INFO']));
          const map = slotMap(await command(p.port, ['CLUSTER', 'SLOTS']));
          lastSeen.set(
            p.port,
            `state=${info.get('cluster_state')} known_nodes=${info.get('cluster_known_nodes')} slots_ok=${info.get('cluster_slots_ok')} map=${map}`,
          );
          if (
            info.get('cluster_state') !== 'ok' ||
            info.get('cluster_known_nodes') !== String(n) ||
            info.get('cluster_slots_ok') !== String(CLUSTER_SLOTS) ||
            map !== expected
          ) {
            ok = false;
          }
        }
        return ok ? true : undefined;
      },
      () =>
        `expected slot map ${expected}\n` +
        procs.map((p) => `node :${p.port}: ${lastSeen.get(p.port) ?? 'no answer'}`).join('\n') +
        `\n${outputs(procs)}`,
    );
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    nodes: procs.map((p) => `127.0.0.1:${p.port}`),
    ports: procs.map((p) => p.port),
    processes: procs.map((p) => p.child),
    dirs: procs.map((p) => p.dir),
    stop,
  };
}

/** CLUSTER SLOTS as a canonical string: 'first-last@ip:port' per range, sorted, comma-separated. */
function slotMap(reply: unknown): string {
  if (!Array.isArray(reply)) return '';
  const ranges = reply.map((r: unknown) => {
    const [first, last, primary] = r as [number, number, [string, number] | undefined];
    return { first, text: `${first}-${last}@${primary?.[0]}:${primary?.[1]}` };
  });
  return ranges
    .sort((a, b) => a.first - b.first)
    .map((r) => r.text)
    .join(',');
}

// ---------------------------------------------------------------------------------------------
// Sentinel

/**
 * Starts one primary, `replicas` replicas of it and `sentinels` sentinels monitoring it as `name`
 * (quorum: a majority of the sentinels). Resolves once every replica is online at the primary and
 * every sentinel sees the primary, every replica (connected, link ok) and every other sentinel.
 */
export async function startRedisSentinelSet(
  opts: { replicas?: number; sentinels?: number; name?: string; downAfterMs?: number; failoverTimeoutMs?: number } = {},
): Promise<RedisSentinelHandle> {
  const nReplicas = opts.replicas ?? 2;
  const nSentinels = opts.sentinels ?? 3;
  const name = opts.name ?? 'mymaster';
  const downAfterMs = opts.downAfterMs ?? 1000;
  const failoverTimeoutMs = opts.failoverTimeoutMs ?? 3000;
  if (!Number.isInteger(nReplicas) || nReplicas < 0) throw new Error(`replicas must be >= 0, got ${nReplicas}`);
  if (!Number.isInteger(nSentinels) || nSentinels < 1) throw new Error(`sentinels must be >= 1, got ${nSentinels}`);
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`unusable master name ${JSON.stringify(name)}`);
  const quorum = Math.floor(nSentinels / 2) + 1;

  const taken = new Set<number>();
  const dataNodes: Proc[] = [];
  const sentinelProcs: Proc[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      // Sentinels first: with them gone, stopping the data nodes cannot set off a failover.
      await Promise.all(sentinelProcs.map(stopProc));
      await Promise.all(dataNodes.map(stopProc));
    })());

  // Data nodes get a config file (holding their settings) because sentinel sends CONFIG REWRITE
  // along with every SLAVEOF it issues during a failover.
  const dataNode = (label: string, replicaOf: number | undefined) =>
    startProc(label, 1, taken, async (dir, [port]) => {
      const conf = join(dir, 'redis.conf');
      await writeFile(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          'save ""',
          'appendonly no',
          `dir ${dir}`,
          'loglevel notice',
          'shutdown-timeout 0',
          // Every node may become the primary: serve a (re)syncing replica at once, not after 5 s.
          'repl-diskless-sync-delay 0',
          ...(replicaOf === undefined ? [] : [`replicaof 127.0.0.1 ${replicaOf}`]),
          '',
        ].join('\n'),
      );
      return [conf];
    });

  try {
    dataNodes.push(await dataNode('primary', undefined));
    const primary = dataNodes[0]!;
    dataNodes.push(...(await startAll(nReplicas, (i) => dataNode(`replica ${i}`, primary.port))));

    let lastReplication = '';
    await pollUntil(
      `primary on port ${primary.port} did not see its ${nReplicas} replica(s) online`,
      CONVERGE_DEADLINE_MS,
      async () => {
        const info = await infoFields(primary.port, 'replication');
        lastReplication = [...info].map(([k, v]) => `${k}:${v}`).join('\n');
        const online = [...info].filter(([k, v]) => /^slave\d+$/.test(k) && v.includes('state=online')).length;
        return online >= nReplicas ? true : undefined;
      },
      () => `last INFO replication:\n${lastReplication}\n${outputs(dataNodes)}`,
    );

    sentinelProcs.push(
      ...(await startAll(nSentinels, (i) =>
        startProc(`sentinel ${i}`, 1, taken, async (dir, [port]) => {
          // One file per sentinel: a sentinel rewrites its own config (ids, epochs, known peers).
          const conf = join(dir, 'sentinel.conf');
          await writeFile(
            conf,
            [
              `port ${port}`,
              'bind 127.0.0.1',
              `dir ${dir}`,
              'loglevel notice',
              'sentinel resolve-hostnames no',
              `sentinel monitor ${name} 127.0.0.1 ${primary.port} ${quorum}`,
              `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
              `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
              `sentinel parallel-syncs ${name} 1`,
              '',
            ].join('\n'),
          );
          return [conf, '--sentinel'];
        }),
      )),
    );

    const lastSeen = new Map<number, string>();
    await pollUntil(
      `sentinels did not all see the primary, its ${nReplicas} replica(s) and ${nSentinels - 1} other sentinel(s)`,
      CONVERGE_DEADLINE_MS,
      async () => {
        let ok = true;
        for (const s of sentinelProcs) {
          const master = pairs(await command(s.port, ['SENTINEL', 'MASTER', name]));
          const replicas = ((await command(s.port, ['SENTINEL', 'REPLICAS', name])) as unknown[]).map(pairs);
          const linked = replicas.filter((r) => r.get('flags') === 'slave' && r.get('master-link-status') === 'ok');
          lastSeen.set(
            s.port,
            `master ${master.get('ip')}:${master.get('port')} flags=${master.get('flags')} ` +
              `num-slaves=${master.get('num-slaves')} num-other-sentinels=${master.get('num-other-sentinels')} ` +
              `replicas=[${replicas.map((r) => `${r.get('ip')}:${r.get('port')} ${r.get('flags')} link=${r.get('master-link-status')}`).join('; ')}]`,
          );
          if (
            master.get('port') !== String(primary.port) ||
            master.get('flags') !== 'master' ||
            master.get('num-slaves') !== String(nReplicas) ||
            master.get('num-other-sentinels') !== String(nSentinels - 1) ||
            linked.length !== nReplicas
          ) {
            ok = false;
          }
        }
        return ok ? true : undefined;
      },
      () =>
        sentinelProcs.map((s) => `sentinel :${s.port}: ${lastSeen.get(s.port) ?? 'no answer'}`).join('\n') +
        `\n${outputs([...dataNodes, ...sentinelProcs])}`,
    );
  } catch (err) {
    await stop();
    throw err;
  }

  const liveSentinels = (): Proc[] => sentinelProcs.filter((s) => !exited(s.child));

  async function primaryPort(): Promise<number> {
    const errors: string[] = [];
    for (const s of liveSentinels()) {
      try {
        const addr = (await command(s.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name])) as [string, string] | null;
        if (addr) return Number(addr[1]);
        errors.push(`:${s.port}: no master named ${name}`);
      } catch (err) {
        errors.push(`:${s.port}: ${(err as Error).message}`);
      }
    }
    throw new Error(`no sentinel named the primary of ${name}: ${errors.join('; ')}`);
  }

  return {
    name,
    sentinels: sentinelProcs.map((s) => `127.0.0.1:${s.port}`),
    processes: [...dataNodes, ...sentinelProcs].map((p) => p.child),
    dirs: [...dataNodes, ...sentinelProcs].map((p) => p.dir),
    primaryPort,

    async killPrimary() {
      const port = await primaryPort();
      const proc = dataNodes.find((p) => p.port === port);
      if (!proc) throw new Error(`sentinels name port ${port} as primary, which is none of this set's data nodes`);
      if (exited(proc.child)) throw new Error(`the primary on port ${port} has already exited`);
      proc.child.kill('SIGKILL');
      if (!(await waitForExit(proc.child, STOP_DEADLINE_MS))) {
        throw new Error(`the primary on port ${port} did not exit within ${STOP_DEADLINE_MS}ms of SIGKILL`);
      }
      return port;
    },

    async waitForFailover(oldPort, timeoutMs) {
      const seen = new Map<number, string>();
      let primaryState = '';
      return pollUntil(
        `sentinels did not fail ${name} over from port ${oldPort} to a serving primary with a replica`,
        timeoutMs,
        async () => {
          const ports = new Set<number>();
          for (const s of liveSentinels()) {
            const addr = (await command(s.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name])) as [string, string] | null;
            seen.set(s.port, addr ? addr.join(':') : 'none');
            if (!addr) return undefined;
            ports.add(Number(addr[1]));
          }
          const [port] = ports;
          if (ports.size !== 1 || port === undefined || port === oldPort) return undefined;
          const role = (await command(port, ['ROLE'])) as unknown[];
          const info = await infoFields(port, 'replication');
          const online = [...info].filter(([k, v]) => /^slave\d+$/.test(k) && v.includes('state=online')).length;
          primaryState = `:${port} ROLE ${String(role[0])}, connected_slaves=${info.get('connected_slaves')}, online=${online}`;
          return role[0] === 'master' && online >= 1 ? port : undefined;
        },
        () =>
          [...seen].map(([p, a]) => `sentinel :${p} names ${a}`).join('\n') +
          (primaryState ? `\n${primaryState}` : '') +
          `\n${outputs([...dataNodes, ...sentinelProcs])}`,
      );
    },

    stop,
  };
}
