/**
 * `remediator demo` as a user starts it (the compiled bin), for tests that use the demo's data:
 * waits until it serves and reads what it printed (the page, the tokens, the simulated cluster).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pollUntil } from './sim-helpers.js';

const BIN = fileURLToPath(new URL('../../bin/remediator.js', import.meta.url));

export interface DemoProcess {
  /** The API's base URL (the page is `${url}/ui/`). */
  url: string;
  simUrl: string;
  tokens: { viewer: string; operator: string; admin: string; webhook: string };
  stdout(): string;
  stop(): Promise<void>;
}

export async function startDemo(timeoutMs = 120_000): Promise<DemoProcess> {
  // Its own config home: the demo saves a CLI context, which must not touch the developer's.
  const home = mkdtempSync(join(tmpdir(), 'remediator-demo-test-'));
  const env = { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, 'config') };
  const child: ChildProcess = spawn(process.execPath, [BIN, 'demo'], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, 'SIGINT');
      } catch {
        // already gone
      }
      const killer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 20_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(home, { recursive: true, force: true });
  };
  try {
    await pollUntil(() => {
      if (child.exitCode !== null) throw new Error(`the demo exited with ${child.exitCode}: ${err}`);
      return out.includes('Still serving; press Ctrl-C to stop.') ? true : undefined;
    }, `the demo to serve (stderr: ${err})`, timeoutMs);
  } catch (e) {
    await stop();
    throw e;
  }
  const grab = (re: RegExp): string => {
    const m = re.exec(out);
    if (!m) throw new Error(`the demo did not print ${re}`);
    return m[1]!;
  };
  return {
    url: grab(/^ {2}page {5}: (http:\/\/\S+)\/ui\/$/m),
    simUrl: grab(/SIMULATED Kubernetes API at (http:\/\/\S+)/),
    tokens: {
      viewer: grab(/^ {2}viewer +: ([0-9a-f]{32})/m),
      operator: grab(/^ {2}operator +: ([0-9a-f]{32})/m),
      admin: grab(/^ {2}admin +: ([0-9a-f]{32})/m),
      webhook: grab(/^ {2}webhook +: ([0-9a-f]{32})/m),
    },
    stdout: () => out,
    stop,
  };
}
