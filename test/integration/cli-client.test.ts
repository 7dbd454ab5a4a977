/**
 * The client verbs of docs/cli.md through the real binary (`node bin/remediator.js`) against a
 * running service: exit codes 0–5, tables and JSON, the token never written. Each invocation
 * starts a process, so the file keeps to a few dozen and runs independent ones side by side.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, TOKENS, type Harness } from '../helpers/harness.js';
import { freePort } from '../helpers/redis-server.js';
import type { Run } from '../../src/domain/run.js';

const BIN = new URL('../../bin/remediator.js', import.meta.url).pathname;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(h: Harness | { url: string }, args: string[], token: string = TOKENS.operator): Promise<CliResult> {
  const url = 'main' in h ? h.main.url : h.url;
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, REMEDIATOR_URL: url, REMEDIATOR_TOKEN: token }, timeout: 50_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** What a failed expectation prints: the command's output. */
function shown(r: CliResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

async function createRun(h: Harness, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${h.main.url}/api/v1/runs`, { method: 'POST', headers: { authorization: `Bearer ${TOKENS.operator}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

const SCALE = ['run', 'scale-replicas', '-p', 'namespace=ml-serving', '-p', 'name=llm-api', '-p', 'maxReplicas=5'];

describe('client verbs against a running service', () => {
  let h: Harness;
  let runId: string;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('run --wait: exit 0, progress on stderr, the run on stdout, and the sim got the scale', async () => {
    const r = await cli(h, [...SCALE, '--reason', 'p95 latency above SLO', '--wait']);
    expect(r.code, shown(r)).toBe(0);
    expect(r.stderr).toMatch(/created \(queued\)/);
    expect(r.stderr).toMatch(/step scale deployment\/ml-serving\/llm-api: ok \(replicas: 2 → 3\)/);
    expect(r.stdout).toMatch(/Status:\s+succeeded\s+changed: yes/);
    expect(r.stdout).toMatch(/Trigger:\s+manual, by alice/);
    runId = /Run:\s+(\S+)/.exec(r.stdout)![1]!;
    const deployment = h.sim.get('Deployment', 'ml-serving', 'llm-api') as unknown as { spec: { replicas: number } };
    expect(deployment.spec.replicas).toBe(3);
    expect(h.sim.mutations().some((m) => m.method === 'PATCH' && m.path.endsWith('/deployments/llm-api/scale'))).toBe(true);
  });

  it('runs lists it in a table; runs show takes the short ID; -o json is the API JSON', async () => {
    const [list, show, json] = await Promise.all([
      cli(h, ['runs'], TOKENS.viewer),
      cli(h, ['runs', 'show', runId.slice(0, 8)], TOKENS.viewer),
      cli(h, ['runs', 'show', runId, '-o', 'json'], TOKENS.viewer),
    ]);
    expect(list.code, shown(list)).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+STATUS\s+PLAYBOOK\s+TARGET\s+SOURCE\s+AGE\s+REASON$/m);
    expect(list.stdout).toMatch(new RegExp(`^${runId.slice(0, 8)}\\s+succeeded\\s+scale-replicas\\s+deployment/ml-serving/llm-api\\s+manual:alice\\s+\\d+s\\s+scaled`, 'm'));
    expect(show.code, shown(show)).toBe(0);
    expect(show.stdout).toContain(`Run:      ${runId}`);
    expect(show.stdout).toMatch(/2\s+\d\d:\d\d:\d\d\s+scale\s+deployment\/ml-serving\/llm-api\s+ok\s+replicas: 2 → 3/);
    expect(json.code, shown(json)).toBe(0);
    const run = JSON.parse(json.stdout) as Run;
    expect(run).toMatchObject({ id: runId, status: 'succeeded', playbook: 'scale-replicas', trigger: { source: 'manual', operator: 'alice' } });
    expect(run.steps[0]).toMatchObject({ action: 'annotate' });
    expect(run.steps[1]).toMatchObject({ action: 'scale', before: { replicas: 2 }, after: { replicas: 3 } });
  });

  it('run --wait on a pod that was not OOM-killed: the run is skipped, exit 5', async () => {
    const r = await cli(h, ['run', 'restart-oom-pod', '-p', 'namespace=ml-batch', '-p', 'pod=gpu-debug-shell', '--reason', 'debug shell is slow', '--wait']);
    expect(r.code, shown(r)).toBe(5);
    expect(r.stdout).toMatch(/Status:\s+skipped/);
    expect(r.stdout).toContain('no container of pod ml-batch/gpu-debug-shell was OOMKilled');
  });

  it('pause (admin), then a run is refused with its guard named (exit 1); resume', async () => {
    const pause = await cli(h, ['pause', '--reason', 'maintenance window'], TOKENS.admin);
    expect(pause.code, shown(pause)).toBe(0);
    expect(pause.stdout).toContain('paused now: global');
    const blocked = await cli(h, [...SCALE, '--reason', 'during maintenance', '--wait']);
    expect(blocked.code, shown(blocked)).toBe(1);
    expect(blocked.stderr).toContain('blocked by guard paused');
    expect(blocked.stderr).toContain('guard: paused');
    const resume = await cli(h, ['resume', '--reason', 'maintenance over'], TOKENS.admin);
    expect(resume.code, shown(resume)).toBe(0);
    expect(resume.stdout).toContain('nothing is paused now');
    expect((await h.get('/api/v1/status', TOKENS.viewer)).body.paused).toEqual({});
  });

  it('a wrong token exits 3 without writing it; a closed port exits 4; bad params exit 2 with their path', async () => {
    const wrong = 'wrong-token-do-not-print-0123';
    const closed = { url: `http://127.0.0.1:${await freePort()}` };
    const [auth, down, invalid] = await Promise.all([
      cli(h, ['runs', '--token', wrong], TOKENS.viewer),
      cli(closed, ['runs']),
      cli(h, ['run', 'scale-replicas', '-p', 'namespace=ml-serving', '-p', 'name=llm-api', '-p', 'maxReplicas=x', '--reason', 'typo']),
    ]);
    expect(auth.code, shown(auth)).toBe(3);
    expect(auth.stderr).toContain('401');
    expect(auth.stdout + auth.stderr).not.toContain(wrong);
    expect(down.code, shown(down)).toBe(4);
    expect(down.stderr).toContain(`cannot reach the Remediator API at ${closed.url}`);
    expect(invalid.code, shown(invalid)).toBe(2);
    expect(invalid.stderr).toMatch(/params\.maxReplicas: /);
  });
});

describe('approvals through the client verbs (guards.manualApproval: all)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ extra: 'guards: { manualApproval: all }' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('run --wait times out awaiting approval (exit 5); the requester cannot approve (exit 3); an admin can (exit 0)', async () => {
    const r = await cli(h, [...SCALE, '--reason', 'p95 latency above SLO', '--wait', '--timeout', '3s', '-o', 'json']);
    expect(r.code, shown(r)).toBe(5);
    const run = JSON.parse(r.stdout) as Run;
    expect(run.status).toBe('awaiting_approval');
    expect(r.stderr).toContain(`remediator approve ${run.id}`);
    const self = await cli(h, ['approve', run.id, '--reason', 'looks fine to me']);
    expect(self.code, shown(self)).toBe(3);
    expect(self.stderr).toContain('cannot also approve');
    const admin = await cli(h, ['approve', run.id.slice(0, 8), '--reason', 'second pair of eyes'], TOKENS.admin);
    expect(admin.code, shown(admin)).toBe(0);
    expect(admin.stdout).toContain(`run ${run.id} approved; now queued`);
    const done = await h.waitRun(run.id);
    expect(done).toMatchObject({ status: 'succeeded', approval: { decision: 'approved', by: 'root' } });
  });

  it('reject and cancel', async () => {
    const toReject = await createRun(h, { playbook: 'scale-replicas', params: { namespace: 'ml-serving', name: 'embedding-service', maxReplicas: 4 }, reason: 'try it' });
    const toCancel = await createRun(h, { playbook: 'drain-gpu-node', params: { node: 'gpu-node-2' }, reason: 'flaky GPU' });
    const [reject, cancel] = await Promise.all([
      cli(h, ['reject', toReject, '--reason', 'an HPA manages it'], TOKENS.admin),
      cli(h, ['cancel', toCancel.slice(0, 8), '--reason', 'GPU recovered']),
    ]);
    expect(reject.code, shown(reject)).toBe(0);
    expect(reject.stdout).toBe(`run ${toReject} rejected\n`);
    expect(cancel.code, shown(cancel)).toBe(0);
    expect(cancel.stdout).toBe(`run ${toCancel} cancelled\n`);
    expect((await h.main.runs.get(toReject))?.status).toBe('rejected');
    expect((await h.main.runs.get(toCancel))?.status).toBe('cancelled');
  });
});
