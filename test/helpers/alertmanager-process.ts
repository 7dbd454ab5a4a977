/**
 * Runs the real Alertmanager binary (Debian's `prometheus-alertmanager`) for end-to-end tests,
 * and the generic "spawn an HTTP daemon on a free loopback port and wait for /-/ready" logic
 * that test/helpers/prometheus-process.ts shares.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort, waitForExit } from './redis-server.js';

export const ALERTMANAGER_BIN = 'prometheus-alertmanager';
export const AMTOOL_BIN = 'amtool';

/** True when `bin` is an executable file in a PATH directory (checked synchronously, for skipIf). */
export function onPath(bin: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, bin), constants.X_OK);
      return true;
    } catch {
      /* not here */
    }
  }
  return false;
}

// Daemons that outlive a crashed test run would hold ports; SIGKILL them when the worker exits.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}


export interface DaemonHandle {
  readonly name: string;
  readonly port: number;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** The temp directory holding its config and data (removed by stop()). */
  readonly dir: string;
  /** The last ~256 KB of its stdout+stderr (logs), for assertions and failure messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s; removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface DaemonOptions {
  bin: string;
  /** Command-line arguments for a given port (the daemon must listen on 127.0.0.1:port). */
  args: (port: number) => string[];
  /** Working directory for config and data; created by the caller, removed on stop(). */
  dir: string;
  readyPath?: string;
  readyDeadlineMs?: number;
}

const OUTPUT_CAP = 256 * 1024;

async function launchOnce(opts: DaemonOptions, port: number): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(opts.bin, opts.args(port), { cwd: opts.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let buf = '';
  const collect = (d: Buffer): void => {
    buf += d.toString('utf8');
    if (buf.length > OUTPUT_CAP) buf = buf.slice(buf.length - OUTPUT_CAP);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });

  const readyUrl = `http://127.0.0.1:${port}${opts.readyPath ?? '/-/ready'}`;
  const deadlineMs = opts.readyDeadlineMs ?? 20_000;
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (spawnError) throw new Error(`${opts.bin} failed to spawn: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${opts.bin} on port ${port} exited during startup (${child.exitCode ?? child.signalCode}):\n${buf.slice(-4000)}`);
    }
    try {
      const res = await fetch(readyUrl, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await waitForExit(child, 5000);
      throw new Error(`${opts.bin} on port ${port} was not ready (${readyUrl}) within ${deadlineMs} ms:\n${buf.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, output: () => buf };
}

/** Starts `bin` on a free loopback port and resolves once `readyPath` (default /-/ready) answers 200. */
export async function startHttpDaemon(opts: DaemonOptions): Promise<DaemonHandle> {
  let port = await freePort();
  let launched: { child: ChildProcess; output: () => string } | undefined;
  // The free port can be taken by someone else before the daemon binds it: retry on another one.
  for (let attempt = 0; ; attempt++) {
    try {
      launched = await launchOnce(opts, port);
      break;
    } catch (err) {
      if (attempt >= 2 || !/address already in use/i.test(String(err))) {
        rmSync(opts.dir, { recursive: true, force: true });
        throw err;
      }
      port = await freePort();
    }
  }
  const { child, output } = launched;
  let stopping: Promise<void> | undefined;
  return {
    name: opts.bin,
    port,
    url: `http://127.0.0.1:${port}`,
    dir: opts.dir,
    output,
    stop() {
      stopping ??= (async () => {
        child.kill('SIGTERM');
        if (!(await waitForExit(child, 5000))) {
          child.kill('SIGKILL');
          await waitForExit(child, 5000);
        }
        rmSync(opts.dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

/** Writes `files` (name -> content, mode 0600) into a new temp dir and returns it. */
export function tempDirWith(prefix: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content, { mode: 0o600 });
  return dir;
}

/** Runs a checker CLI (amtool, promtool) synchronously; `ok` is exit code 0. */
export function runTool(bin: string, args: string[], cwd?: string): { ok: boolean; output: string } {
  const res = spawnSync(bin, args, { cwd, encoding: 'utf8', timeout: 20_000 });
  return { ok: res.status === 0, output: `${res.stdout ?? ''}${res.stderr ?? ''}${res.error ? String(res.error) : ''}` };
}

/** What Prometheus POSTs to Alertmanager's v2 API for one alert. */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

export interface AlertmanagerHandle extends DaemonHandle {
  /** alertmanager.yml as written. */
  readonly configFile: string;
  /** POST /api/v2/alerts (throws unless 200). */
  postAlerts(alerts: PostableAlert[]): Promise<void>;
  /** GET /api/v2/alerts: what Alertmanager currently holds. */
  alerts(): Promise<{ labels: Record<string, string>; fingerprint: string; status: { state: string } }[]>;
  /** Its own /metrics text. */
  metrics(): Promise<string>;
}

/**
 * Starts Alertmanager with clustering disabled and its own storage in a temp dir.
 * `config` gets that dir (to reference `files`, e.g. a credentials_file) and returns the YAML.
 */
export async function startAlertmanager(opts: { config: (dir: string) => string; files?: Record<string, string>; logLevel?: string }): Promise<AlertmanagerHandle> {
  const dir = tempDirWith('remediator-am-', opts.files);
  const configFile = join(dir, 'alertmanager.yml');
  writeFileSync(configFile, opts.config(dir));
  const daemon = await startHttpDaemon({
    bin: ALERTMANAGER_BIN,
    dir,
    args: (port) => [
      `--config.file=${configFile}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      `--log.level=${opts.logLevel ?? 'debug'}`,
    ],
  });
  const url = daemon.url;
  return {
    ...daemon,
    configFile,
    async postAlerts(alerts) {
      const res = await fetch(`${url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alerts) });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`POST /api/v2/alerts: ${res.status} ${text}`);
    },
    async alerts() {
      const res = await fetch(`${url}/api/v2/alerts`);
      return (await res.json()) as { labels: Record<string, string>; fingerprint: string; status: { state: string } }[];
    },
    async metrics() {
      const res = await fetch(`${url}/metrics`);
      return res.text();
    },
  };
}
