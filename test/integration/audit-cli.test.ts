/**
 * `remediator audit` and `remediator audit verify` through the real binary (`node
 * bin/remediator.js`) against a running service: table, json and ndjson output, --follow seeing
 * an entry written after it started, exit codes 0/1/2/3. Each start is a process, so the file
 * keeps its invocations few and runs independent ones side by side.
 */
import { execFile, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, poll, TOKENS, type Harness } from '../helpers/harness.js';
import type { AuditEntry } from '../../src/audit/audit-entry.js';
import type { AuditItem, AuditPage } from '../../src/audit/audit-query.js';
import { auditKeys } from '../../src/audit/audit-keys.js';

const BIN = new URL('../../bin/remediator.js', import.meta.url).pathname;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(h: Harness, args: string[], token: string = TOKENS.viewer): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, REMEDIATOR_URL: h.main.url, REMEDIATOR_TOKEN: token }, timeout: 50_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

function shown(r: CliResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

const RUN = '7f3c9a1e-2b4d-4c8e-9f10-aa55cc77ee99';

function drainStory(): AuditEntry[] {
  const at = new Date().toISOString();
  const base = { at, runId: RUN, target: 'node/gpu-node-3', playbook: 'drain-gpu-node', rule: 'drain-overheated-gpu-nodes' };
  return [
    { ...base, actor: 'alertmanager', type: 'run_created', source: 'alert', alertname: 'GPUNodeOverheating', fingerprint: 'fp1', params: { timeoutSeconds: 60 }, dryRun: false, status: 'awaiting_approval' },
    { ...base, actor: 'alice', type: 'operator_action', action: 'approve', reason: 'GPU at 97C, drain it' },
    { ...base, actor: 'worker', type: 'kube_mutation', action: 'cordon', object: 'node/gpu-node-3', method: 'PATCH', path: '/api/v1/nodes/gpu-node-3', dryRun: false, result: 'ok', before: { unschedulable: false }, after: { unschedulable: true } },
    { ...base, actor: 'worker', type: 'kube_mutation', action: 'evict', object: 'pod/ml-serving/llm-api-7d9f8b6c5-x2kqp', method: 'POST', path: '/api/v1/namespaces/ml-serving/pods/llm-api-7d9f8b6c5-x2kqp/eviction', dryRun: false, result: 'ok' },
    { ...base, actor: 'worker', type: 'run_status', from: 'running', to: 'succeeded', reason: 'drained 1 pod' },
    { at, actor: 'worker', type: 'run_status', runId: 'other-run', target: 'node/gpu-node-30', from: 'queued', to: 'running' },
  ];
}

describe('remediator audit (the binary) against a running service', () => {
  let h: Harness;
  let story: string[];
  beforeAll(async () => {
    h = await startHarness();
    story = await h.main.audit.append(drainStory());
    await h.main.audit.append(Array.from({ length: 5 }, (_, i): AuditEntry => ({ type: 'run_status', at: new Date().toISOString(), actor: 'cli-bot', runId: `bot-${i}`, to: 'running' })));
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('table, -o json and -o ndjson show the filtered entries; verify exits 0 on the intact log', async () => {
    await poll(async () => ((await h.main.redis.hget(auditKeys(h.config.redis.prefix).sealed, 'lastId')) !== null ? true : undefined), 10_000, 'the sealer');
    const [table, json, ndjson, verify] = await Promise.all([
      cli(h, ['audit', '--target', 'node/gpu-node-3', '--since', '1h']),
      cli(h, ['audit', '--target', 'node/gpu-node-3', '--type', 'kube_mutation,operator_action', '-o', 'json']),
      cli(h, ['audit', '--actor', 'cli-bot', '-o', 'ndjson']),
      cli(h, ['audit', 'verify']),
    ]);

    expect(table.code, shown(table)).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+ACTOR\s+TYPE\s+TARGET\s+RUN\s+DETAIL$/);
    // Newest first; not gpu-node-30; the run's short id; detail per kind.
    expect(lines.slice(1)).toHaveLength(5);
    expect(lines[1]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+worker\s+run_status\s+node\/gpu-node-3\s+7f3c9a1e\s+running → succeeded: drained 1 pod$/);
    expect(lines[2]).toMatch(/worker\s+kube_mutation\s+node\/gpu-node-3\s+7f3c9a1e\s+evict pod\/ml-serving\/llm-api-7d9f8b6c5-x2kqp ok$/);
    expect(lines[3]).toMatch(/kube_mutation\s+.*cordon node\/gpu-node-3 ok \(unschedulable: false → true\)$/);
    expect(lines[4]).toMatch(/alice\s+operator_action\s+node\/gpu-node-3\s+7f3c9a1e\s+approve: GPU at 97C, drain it$/);
    expect(lines[5]).toMatch(/alertmanager\s+run_created\s+node\/gpu-node-3\s+7f3c9a1e\s+alert → awaiting_approval alert GPUNodeOverheating$/);

    expect(json.code, shown(json)).toBe(0);
    const page = JSON.parse(json.stdout) as AuditPage;
    expect(page.nextCursor).toBeNull();
    expect(page.items.map((i) => i.id)).toEqual([story[3], story[2], story[1]]);
    expect(page.items[2]).toMatchObject({ type: 'operator_action', actor: 'alice', action: 'approve', sealed: expect.any(Boolean) });

    expect(ndjson.code, shown(ndjson)).toBe(0);
    const items = ndjson.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as AuditItem);
    // The export is oldest first.
    expect(items.map((i) => 'runId' in i && i.runId)).toEqual(['bot-0', 'bot-1', 'bot-2', 'bot-3', 'bot-4']);

    expect(verify.code, shown(verify)).toBe(0);
    expect(verify.stdout).toMatch(/^Audit chain: ok$/m);
    expect(verify.stdout).toMatch(/^Checked:\s+\d+ sealed entries/m);
  });

  it('--follow prints the recent entries, then one written after it started, until Ctrl-C', async () => {
    const child = spawn(process.execPath, [BIN, 'audit', '--follow', '--target', 'node/gpu-node-3'], {
      env: { PATH: process.env.PATH, REMEDIATOR_URL: h.main.url, REMEDIATOR_TOKEN: TOKENS.viewer },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      // The backlog, oldest first, under a fixed-width header.
      await poll(async () => (/drained 1 pod/.test(stdout) ? true : undefined), 30_000, `the backlog (stdout: ${stdout} stderr: ${stderr})`);
      const backlog = stdout.trimEnd().split('\n');
      expect(backlog[0]).toMatch(/^TIME\s+ACTOR\s+TYPE\s+TARGET\s+RUN\s+DETAIL$/);
      expect(backlog[1]).toMatch(/run_created/);
      expect(backlog.at(-1)).toMatch(/drained 1 pod/);
      await h.main.audit.append([
        { type: 'operator_action', at: new Date().toISOString(), actor: 'root', target: 'node/gpu-node-3', action: 'resume', reason: 'written after follow started' },
        { type: 'operator_action', at: new Date().toISOString(), actor: 'root', target: 'node/gpu-node-30', action: 'pause', reason: 'another node: filtered out' },
      ]);
      await poll(async () => (/written after follow started/.test(stdout) ? true : undefined), 10_000, `the new entry (stdout: ${stdout})`);
      expect(stdout.trimEnd().split('\n').at(-1)).toMatch(/root\s+operator_action\s+node\/gpu-node-3\s+-\s+resume: written after follow started$/);
      expect(stdout).not.toMatch(/filtered out/);
      expect(stdout.match(/drained 1 pod/g)).toHaveLength(1);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  });

  it('exit 3 for a bad token (never echoed), 2 for a bad filter', async () => {
    const secret = 'not-a-real-token-5f2a9c';
    const [auth, usage] = await Promise.all([cli(h, ['audit', '--token', secret]), cli(h, ['audit', '--type', 'bogus', '--since', 'yesterday'])]);
    expect(auth.code, shown(auth)).toBe(3);
    expect(auth.stderr).toMatch(/401 unauthorized/);
    expect(auth.stdout + auth.stderr).not.toContain(secret);
    expect(usage.code, shown(usage)).toBe(2);
    expect(usage.stderr).toMatch(/type: unknown type bogus/);
    expect(usage.stderr).toMatch(/since: "yesterday" is neither RFC 3339 nor a duration/);
  });

  it('audit verify exits 1 and names the first bad entry after an entry is edited in Redis', async () => {
    const { stream, sealed } = auditKeys(h.config.redis.prefix);
    const redis = h.main.redis;
    await poll(async () => {
      const head = await redis.hget(sealed, 'lastId');
      const [newest] = await redis.xrevrange(stream, '+', '-', 'COUNT', 1);
      return head && newest && head === newest[0] ? true : undefined;
    }, 10_000, 'everything sealed');
    // The approval, edited to name someone else: rebuild the stream with the same ids, atomically.
    const rows = (await redis.xrange(stream, '-', '+')) as [string, string[]][];
    const multi = redis.multi().del(stream);
    for (const [id, fields] of rows) multi.xadd(stream, id, ...(id === story[1] ? ['e', fields[1]!.replace('"actor":"alice"', '"actor":"mallory"')] : fields));
    await multi.exec();
    const r = await cli(h, ['audit', 'verify']);
    expect(r.code, shown(r)).toBe(1);
    expect(r.stdout).toMatch(/^Audit chain: NOT OK$/m);
    expect(r.stdout).toContain(`First bad:   ${story[1]}: seal does not match the chain`);
  });
});
