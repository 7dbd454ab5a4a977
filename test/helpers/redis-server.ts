import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';

export interface RedisServerHandle {
  readonly url: string;
  readonly port: number;
  /** Shuts the server down (no save) and waits for the process to exit. Idempotent. */
  stop(): Promise<void>;
  /** Brings a stopped server back on the same port; a no-op while it runs. */
  start(): Promise<void>;
}

const STARTUP_DEADLINE_MS = 10_000;
const STOP_DEADLINE_MS = 5_000;

// Children that outlive a crashed test run would hold ports and confuse the next run.
const live = new Set<ChildProcess>();
const onExit: (() => void)[] = [];
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
    for (const fn of onExit) fn();
  });
}

/** SIGKILLed when the test process exits, unless it exited first (also for test/helpers/redis-topology.ts). */
export function trackChild(child: ChildProcess): void {
  live.add(child);
  installExitHook();
  child.once('exit', () => live.delete(child));
}

/** Runs when the test process exits, after every tracked child was killed (e.g. removing temp dirs). */
export function atTestExit(fn: () => void): void {
  onExit.push(fn);
  installExitHook();
}

/** A port free at the time of asking; the caller may still lose a race for it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('could not determine a free port'));
        return;
      }
      const { port } = addr;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/** One inline-protocol PING; resolves true on +PONG, false on anything else (refused, LOADING…). */
function ping(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = new Socket();
    let buf = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('error', () => done(false));
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
    sock.connect(port, '127.0.0.1', () => sock.write('PING\r\n'));
  });
}

/** Resolves true when the child exits within the time, false otherwise. */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

async function launch(port: number, extraArgs: readonly string[] = []): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'no',
      '--dir', tmpdir(),
      '--loglevel', 'warning',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  trackChild(child);
  let output = '';
  const collect = (d: Buffer): void => {
    // Only kept to explain a failed start; cap it so a chatty server cannot grow memory.
    if (output.length < 8192) output += d.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });

  const deadline = Date.now() + STARTUP_DEADLINE_MS;
  for (;;) {
    if (spawnError) throw new Error(`redis-server failed to spawn: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server on port ${port} exited during startup: ${output.trim()}`);
    }
    if (await ping(port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await waitForExit(child, STOP_DEADLINE_MS);
      throw new Error(`redis-server on port ${port} did not answer PING within ${STARTUP_DEADLINE_MS}ms: ${output.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  // Past startup nothing reads the pipes; drain them so the server never blocks on a full pipe.
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

/**
 * Spawns a real `redis-server` (from PATH) on a free loopback port with persistence off, and
 * resolves once it answers PING.
 */
export async function startRedisServer(opts: { port?: number; /** More redis-server arguments, e.g. `--replicaof 127.0.0.1 6379`. */ args?: readonly string[] } = {}): Promise<RedisServerHandle> {
  let port = opts.port ?? (await freePort());
  let child: ChildProcess | undefined;
  // A chosen free port can be taken by someone else before redis binds it; retry with another.
  for (let attempt = 0; ; attempt++) {
    try {
      child = await launch(port, opts.args);
      break;
    } catch (err) {
      if (opts.port !== undefined || attempt >= 2) throw err;
      port = await freePort();
    }
  }

  let stopping: Promise<void> | undefined;
  const handle: RedisServerHandle = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      const current = child;
      if (!current) return;
      stopping ??= (async () => {
        current.kill('SIGTERM'); // with save "" redis exits at once without writing anything
        if (!(await waitForExit(current, STOP_DEADLINE_MS))) {
          current.kill('SIGKILL');
          await waitForExit(current, STOP_DEADLINE_MS);
        }
        child = undefined;
      })().finally(() => {
        stopping = undefined;
      });
      await stopping;
    },
    async start() {
      if (stopping) await stopping;
      // A server that died on its own is restarted too.
      if (child && child.exitCode === null && child.signalCode === null) return;
      child = await launch(port, opts.args);
    },
  };
  return handle;
}
