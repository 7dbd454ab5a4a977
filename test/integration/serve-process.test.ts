import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisServer, freePort, type RedisServerHandle } from '../helpers/redis-server.js';
import { writeServeDir } from '../helpers/serve-dir.js';
import { startSimCluster, type SimCluster } from '../../src/sim/sim-cluster.js';
import { fixture, poll, TOKENS } from '../helpers/harness.js';

const BIN = new URL('../../bin/remediator.js', import.meta.url).pathname;

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('the remediator binary', () => {
  let redis: RedisServerHandle;
  let sim: SimCluster;
  let dir: string;
  let good: string;
  beforeAll(async () => {
    redis = await startRedisServer();
    sim = await startSimCluster({ port: 0 });
    ({ dir, config: good } = writeServeDir({ simUrl: sim.url, redisUrl: redis.url, prefix: 'cli', amToken: TOKENS.alertmanager, shutdownGraceSeconds: 20, prefixDir: 'remediator-cli-' }));
  });
  afterAll(async () => {
    await sim?.close();
    await redis?.stop();
  });

  it('validate: 0 for a good file, 2 with every problem and its path for a bad one', async () => {
    const ok = await cli(['validate', '--config', good]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/ok/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, `rules:\n  - name: x\n    matchers: ['alertname="X']\n    playbook: drain-node\n    bogus: 1\n`);
    const res = await cli(['validate', '--config', bad]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/rules\[0\]\.matchers\[0\]/);
    expect(res.stderr).toMatch(/rules\[0\]\.playbook/);
    expect(res.stderr).toMatch(/bogus/);
  });

  it('validate: the shipped remediator.example.yaml is ok as shipped; secrets this machine lacks are warnings', async () => {
    const example = fileURLToPath(new URL('../../remediator.example.yaml', import.meta.url));
    const res = await cli(['validate', '--config', example]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/remediator\.example\.yaml: ok \(\d+ rules, 4 tokens\)/);
    expect(res.stderr).toMatch(/^warning: auth\.tokens\[0\]\.tokenEnv: environment variable REMEDIATOR_AM_TOKEN is not set or empty \(serve refuses to start until this is resolved\)$/m);
    expect(res.stderr).toMatch(/^warning: audit\.keyFile: file not found: /m);
    // serve with the same file refuses, listing what it lacks.
    const serve = await cli(['serve', '--config', example]);
    expect(serve.code).toBe(2);
    expect(serve.stderr).toMatch(/REMEDIATOR_AM_TOKEN is not set/);
  });

  it('schema prints a JSON Schema', async () => {
    const res = await cli(['schema']);
    expect(res.code).toBe(0);
    const schema = JSON.parse(res.stdout) as { properties?: Record<string, unknown> };
    expect(Object.keys(schema.properties ?? {})).toEqual(expect.arrayContaining(['server', 'redis', 'rules', 'guards', 'audit']));
  });

  it('serve refuses to start without audit.keyFile or without a usable Kubernetes config', async () => {
    const noKey = join(dir, 'no-key.yaml');
    writeFileSync(noKey, `redis: { url: '${redis.url}' }\nkubernetes: { kubeconfig: ./kubeconfig }\nrules: []\n`);
    const a = await cli(['serve', '--config', noKey]);
    expect(a.code).not.toBe(0);
    expect(a.stderr).toMatch(/keyFile/);
    const noKube = join(dir, 'no-kube.yaml');
    writeFileSync(noKube, `redis: { url: '${redis.url}' }\naudit: { keyFile: ./audit-key }\nrules: []\n`);
    const b = await cli(['serve', '--config', noKube], { HOME: mkdtempSync(join(tmpdir(), 'home-')) });
    expect(b.code).not.toBe(0);
    expect(b.stderr).toMatch(/kube/i);
    expect(b.stderr).not.toMatch(/localhost:8080/);
  });

  it('serve acts on an alert and exits cleanly on SIGTERM', async () => {
    const port = await freePort();
    const child: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--config', good], { env: { PATH: process.env.PATH, PORT: String(port), LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await poll(async () => {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      }, 30_000, 'serve to be ready');
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.alertmanager}` },
        body: JSON.stringify(fixture('firing-llm-high-latency-p95').body),
      });
      expect(res.status).toBe(200);
      await poll(async () => (sim.requests.some((r) => r.method === 'PATCH' && r.path.endsWith('/scale')) ? true : undefined), 20_000, 'the scale');
      const started = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      child.kill('SIGKILL');
    }
    expect(stderr).not.toMatch(/"level":50/);
  });

  it('`remediator sim` serves a cluster that kubectl can get, scale, cordon and drain', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'sim', '--port', String(port)], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    try {
      const kubeconfig = await poll(async () => /kubeconfig: (\S+)/.exec(stdout)?.[1], 30_000, 'sim to print its kubeconfig');
      const kubectl = (args: string[]) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
          execFile('kubectl', ['--kubeconfig', kubeconfig, '--request-timeout=10s', ...args], { timeout: 60_000, env: { PATH: process.env.PATH, HOME: dir } }, (err, out, errOut) =>
            resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout: out, stderr: errOut }),
          );
        });
      const nodes = await kubectl(['get', 'nodes']);
      expect(nodes.code, nodes.stderr).toBe(0);
      expect(nodes.stdout).toMatch(/^gpu-node-3\s+Ready/m);
      const scale = await kubectl(['scale', 'deployment', 'llm-api', '-n', 'ml-serving', '--replicas=3']);
      expect(scale.code, scale.stderr).toBe(0);
      expect((await kubectl(['get', 'deployment', 'llm-api', '-n', 'ml-serving', '-o', 'jsonpath={.spec.replicas}'])).stdout).toBe('3');
      expect((await kubectl(['cordon', 'gpu-node-1'])).stdout).toMatch(/cordoned/);
      const drain = await kubectl(['drain', 'gpu-node-1', '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout=60s']);
      expect(drain.code, drain.stderr).toBe(0);
      expect(drain.stdout).toMatch(/node\/gpu-node-1 drained/);
      const left = await kubectl(['get', 'pods', '-A', '--field-selector', 'spec.nodeName=gpu-node-1', '-o', 'jsonpath={range .items[*]}{.metadata.ownerReferences[0].kind}{"\\n"}{end}']);
      for (const kind of left.stdout.split('\n').filter(Boolean)) expect(['DaemonSet', 'Node']).toContain(kind);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('`remediator demo --once` shows three remediations succeeding, one verified, one escalated into an approval-waiting raise-memory-limit, two skipped by their precheck, and a verified audit chain', async () => {
    const res = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, [BIN, 'demo', '--once'], { env: { PATH: process.env.PATH, HOME: dir }, timeout: 240_000 }, (err, stdout) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout }),
      );
    });
    expect(res.stdout).toMatch(/SIMULATED Kubernetes API/);
    expect(res.stdout.match(/^ {2}SUCCEEDED (restart-oom-pod|scale-replicas|drain-gpu-node) /gm)).toHaveLength(3);
    expect(res.stdout).toMatch(/Audit chain: verified/);
    expect(res.stdout).toMatch(/SIMULATED Prometheus/);
    expect(res.stdout.match(/^ {2}SKIPPED restart-oom-pod statefulset\/ml-training\/trainer /gm)).toHaveLength(2);
    expect(res.stdout).toMatch(/^ {4}precheck fail: .*pod="trainer-0".* -> empty result$/m);
    expect(res.stdout).toMatch(/^ {4}verification resolved: the query returns nothing$/m);
    expect(res.stdout).toMatch(/^ {4}ESCALATED: the fix did not stick -> raise-memory-limit deployment\/ml-serving\/llm-api .* is awaiting_approval$/m);
    expect(res.stdout).toMatch(/3 of 5 remediations succeeded; 2 skipped by their precheck \(the condition no longer held\); 1 verified resolved; 1 escalated \(1 awaiting approval\)\./);
    expect(res.stdout).not.toMatch(/"level":/);
    expect(res.code).toBe(0);
  }, 250_000);
});

