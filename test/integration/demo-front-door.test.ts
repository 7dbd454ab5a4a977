/**
 * The front door (issue 12): `npm run demo`, then the CLI and the API with what it printed. With
 * another context current beforehand, the demo makes its own current, `remediator runs` needs no
 * flags, each printed token signs in, and Ctrl-C removes the demo's folder (it holds the audit
 * key) and makes the earlier context current again.
 */
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../helpers/sim-helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/remediator.js');

describe('npm run demo, then the CLI and the page', () => {
  const home = mkdtempSync(join(tmpdir(), 'remediator-front-door-'));
  const xdg = join(home, 'config');
  const env = { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: xdg };
  const child = spawn('npm', ['run', '--silent', 'demo'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  afterAll(() => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });

  it('serves, and the CLI, the tokens and Ctrl-C behave as printed', async () => {
    mkdirSync(join(xdg, 'remediator'), { recursive: true, mode: 0o700 });
    writeFileSync(join(xdg, 'remediator', 'config.yaml'), 'current: prod\ncontexts:\n  - { name: prod, url: "http://127.0.0.1:9", token: prod-token-not-used }\n', { mode: 0o600 });

    await pollUntil(() => (stdout.includes('Still serving; press Ctrl-C to stop.') ? true : undefined), `the demo to serve (stderr: ${stderr})`, 180_000);
    expect(stderr).not.toMatch(/Unhandled error event|\n\s+at /);
    const page = /^ {2}page {5}: (http:\/\/\S+)\/ui\/$/m.exec(stdout)![1]!;
    const tokens = ['viewer', 'operator', 'admin'].map((role) => new RegExp(`^ {2}${role} +: ([0-9a-f]{32})`, 'm').exec(stdout)![1]!);
    const folder = dirname(/--kubeconfig (\S+)\/kubeconfig/.exec(stdout)![1]! + '/x');
    expect(existsSync(folder)).toBe(true);
    expect(readFileSync(join(xdg, 'remediator', 'config.yaml'), 'utf8')).toMatch(/current: demo/);

    // The CLI with no flags talks to the demo, and lists the run waiting for approval.
    const runs = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(process.execPath, [BIN, 'runs'], { env, timeout: 30_000 }, (err, out) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out })),
    );
    expect(runs.code).toBe(0);
    expect(runs.out).toMatch(/awaiting_approval\s+raise-memory-limit\s+deployment\/ml-serving\/llm-api/);

    // Each printed token signs in.
    for (const token of tokens) {
      const res = await fetch(`${page}/api/v1/runs`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status, token).toBe(200);
    }

    process.kill(-child.pid!, 'SIGINT');
    // Ctrl-C ends it promptly (its shutdown is bounded): a hang fails here, with its output.
    await pollUntil(() => (child.exitCode !== null || child.signalCode !== null ? true : undefined), `the demo to exit after Ctrl-C (stderr: ${stderr})`, 30_000);
    await exited;
    expect(existsSync(folder)).toBe(false);
    const after = readFileSync(join(xdg, 'remediator', 'config.yaml'), 'utf8');
    expect(after).toMatch(/current: prod/);
    expect(after).not.toMatch(/name: demo/);
  }, 240_000);
});
