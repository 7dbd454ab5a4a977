import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerClientVerbs } from '../../../src/cli/client/register-client-verbs.js';
import { memoryOutput } from '../../../src/cli/client/output.js';
import { fakeFetch, RUN_ID, sampleRun, type FakeRoute } from './fake-api.js';

const TOKEN = 'op-token-0123456789';
const NOW = Date.parse('2026-01-01T03:05:00.000Z');

/** Parses argv with the client verbs on a fresh program; usage errors come back as exit 2 like main.ts's exitOverride. */
async function cli(argv: string[], route: FakeRoute, env: NodeJS.ProcessEnv = { REMEDIATOR_URL: 'http://api:8080', REMEDIATOR_TOKEN: TOKEN }) {
  const out = memoryOutput();
  const api = fakeFetch(route);
  let code: number | undefined;
  let clock = NOW;
  const program = new Command('remediator').exitOverride((err) => {
    throw err;
  });
  program.configureOutput({ writeOut: (s) => out.out(s), writeErr: (s) => out.err(s) });
  registerClientVerbs(program, {
    env,
    out,
    fetch: api.fetch,
    now: () => clock,
    wait: { sleep: async (ms) => void (clock += ms) },
    exit: (c) => void (code = c),
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    code = (err as { exitCode?: number }).exitCode === 0 ? 0 : 2;
  }
  return { code, ...out, requests: api.requests };
}

describe('run', () => {
  it('posts the playbook, -p params as JSON where they parse, the reason and the flags', async () => {
    const r = await cli(['run', 'scale-replicas', '-p', 'namespace=ml-serving', '-p', 'name=llm-api', '-p', 'maxReplicas=5', '--reason', 'p95 high', '--dry-run', '--bypass-guards', '--precheck', 'up{job="llm"} == 1'], () => ({ status: 202, body: { id: RUN_ID, status: 'queued' } }));
    expect(r.code).toBe(0);
    expect(r.requests).toHaveLength(1);
    expect(r.requests[0]).toMatchObject({
      method: 'POST',
      path: '/api/v1/runs',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: { playbook: 'scale-replicas', params: { namespace: 'ml-serving', name: 'llm-api', maxReplicas: 5 }, reason: 'p95 high', dryRun: true, bypassGuards: true, precheck: 'up{job="llm"} == 1' },
    });
    expect(r.stdout).toBe(`run ${RUN_ID} queued\n`);
  });

  it('-o json prints the raw API JSON', async () => {
    const r = await cli(['run', 'scale-replicas', '--reason', 'x', '-o', 'json'], () => ({ status: 202, body: { id: RUN_ID, status: 'queued' } }));
    expect(JSON.parse(r.stdout)).toEqual({ id: RUN_ID, status: 'queued' });
  });

  it('--reason is required and a bad -p or --timeout is a usage error, without a request', async () => {
    for (const argv of [['run', 'scale-replicas'], ['run', 'scale-replicas', '-p', 'oops', '--reason', 'x'], ['run', 'scale-replicas', '--reason', 'x', '--wait', '--timeout', 'soon'], ['run', 'x', '--reason', 'y', '-o', 'yaml']]) {
      const r = await cli(argv, () => ({ status: 500 }));
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.requests).toHaveLength(0);
    }
  });

  it('--wait follows the run to the end: progress on stderr, the run on stdout, exit by its status', async () => {
    const states = [sampleRun({ status: 'queued', steps: [], finishedAt: undefined }), sampleRun({ status: 'running', steps: [] }), sampleRun()];
    let polls = 0;
    const r = await cli(['run', 'scale-replicas', '--reason', 'x', '--wait'], (req) =>
      req.method === 'POST' ? { status: 202, body: { id: RUN_ID, status: 'queued' } } : { status: 200, body: states[Math.min(polls++, states.length - 1)] },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/queued[\s\S]*running[\s\S]*step scale deployment\/ml-serving\/llm-api: ok \(replicas: 2 → 3\)[\s\S]*succeeded/);
    expect(r.stdout).toMatch(/^Run:\s+3f2a9c1e-1111/);
  });

  it.each([
    ['failed', 1],
    ['blocked', 1],
    ['rejected', 1],
    ['expired', 1],
    ['cancelled', 1],
    ['skipped', 5],
  ])('--wait: a run that ends %s exits %i', async (status, code) => {
    const r = await cli(['run', 'p', '--reason', 'x', '--wait', '-o', 'json'], (req) => (req.method === 'POST' ? { status: 202, body: { id: RUN_ID, status: 'queued' } } : { status: 200, body: sampleRun({ status }) }));
    expect(r.code).toBe(code);
    expect(JSON.parse(r.stdout).status).toBe(status);
  });

  it('--wait: still awaiting approval at the timeout exits 5', async () => {
    const r = await cli(['run', 'p', '--reason', 'x', '--wait', '--timeout', '3s'], (req) =>
      req.method === 'POST' ? { status: 202, body: { id: RUN_ID, status: 'awaiting_approval' } } : { status: 200, body: sampleRun({ status: 'awaiting_approval', steps: [], approval: { requiredBy: 'manualApproval' } }) },
    );
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`remediator approve ${RUN_ID}`);
    expect(r.stderr).toContain('still awaiting_approval after 3s');
  });

  it('--wait rides out a few unreachable polls', async () => {
    let polls = 0;
    const r = await cli(['run', 'p', '--reason', 'x', '--wait'], (req) => {
      if (req.method === 'POST') return { status: 202, body: { id: RUN_ID, status: 'queued' } };
      polls++;
      if (polls === 1) return { status: 503, text: 'down' };
      if (polls === 2) return { status: 503, body: { error: 'unavailable', message: 'Redis is unavailable' } };
      return { status: 200, body: sampleRun() };
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('retrying');
  });

  it('maps refusals: 409 → 1, 400 → 2 with paths, 401/403 → 3, 5xx → 4; never echoes the token', async () => {
    const blocked = await cli(['run', 'p', '--reason', 'x'], () => ({ status: 409, body: { error: 'blocked', guard: 'paused', runId: RUN_ID, message: 'blocked by guard paused: automation is paused globally' } }));
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toContain('guard: paused');
    const invalid = await cli(['run', 'p', '-p', 'maxReplicas=x', '--reason', 'x'], () => ({ status: 400, body: { error: 'invalid_request', message: 'invalid run request', details: [{ path: 'params.maxReplicas', message: 'expected number, received string' }] } }));
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('params.maxReplicas: expected number, received string');
    const secret = 'wrong-token-should-not-leak';
    const unauthorized = await cli(['runs', '--token', secret], () => ({ status: 401, body: { error: 'unauthorized', message: `a valid bearer token is required (got ${secret})` } }));
    expect(unauthorized.code).toBe(3);
    expect(unauthorized.stdout + unauthorized.stderr).not.toContain(secret);
    const forbidden = await cli(['pause', '--reason', 'x'], () => ({ status: 403, body: { error: 'forbidden', message: 'role operator may not do this; it needs admin' } }));
    expect(forbidden.code).toBe(3);
    const down = await cli(['runs'], () => ({ status: 503, body: { error: 'unavailable', message: 'Redis is unavailable' } }));
    expect(down.code).toBe(4);
  });
});

describe('runs', () => {
  it('runs (default list) passes the filters and renders the table', async () => {
    const r = await cli(['runs', '--status', 'failed,blocked', '--playbook', 'drain-gpu-node', '--rule', 'r', '--target', 'node/gpu-node-3', '--since', '24h', '--limit', '2'], () => ({ status: 200, body: { items: [sampleRun()], nextCursor: 'c2' } }));
    expect(r.code).toBe(0);
    expect(r.requests[0]).toMatchObject({ path: '/api/v1/runs', query: { status: 'failed,blocked', playbook: 'drain-gpu-node', rule: 'r', target: 'node/gpu-node-3', since: '24h', limit: '2' } });
    expect(r.stdout).toMatch(/^ID\s+STATUS\s+PLAYBOOK\s+TARGET\s+SOURCE\s+AGE\s+REASON\n3f2a9c1e\s+succeeded/);
    expect(r.stderr).toContain('--cursor c2');
  });

  it('runs list --all follows nextCursor; -o json prints every item', async () => {
    const r = await cli(['runs', 'list', '--all', '-o', 'json'], (req) =>
      req.query.cursor === 'p2' ? { status: 200, body: { items: [sampleRun({ id: 'b' })], nextCursor: null } } : { status: 200, body: { items: [sampleRun({ id: 'a' })], nextCursor: 'p2' } },
    );
    expect(r.requests.map((q) => q.query.cursor)).toEqual([undefined, 'p2']);
    expect(JSON.parse(r.stdout).items.map((i: { id: string }) => i.id)).toEqual(['a', 'b']);
  });

  it('runs show accepts the short ID from the table', async () => {
    const r = await cli(['runs', 'show', '3f2a9c1e'], (req) =>
      req.path === '/api/v1/runs' ? { status: 200, body: { items: [sampleRun(), sampleRun({ id: 'ffff0000-0000-4000-8000-000000000000' })], nextCursor: null } } : { status: 200, body: sampleRun() },
    );
    expect(r.code).toBe(0);
    expect(r.requests[1]!.path).toBe(`/api/v1/runs/${RUN_ID}`);
    expect(r.stdout).toMatch(/Steps:\n\s+#\s+AT\s+ACTION/);
  });

  it('a short ID that matches nothing is a usage error; a full unknown one is the server 404 (2)', async () => {
    const none = await cli(['runs', 'show', 'abcd1234'], () => ({ status: 200, body: { items: [sampleRun()], nextCursor: null } }));
    expect(none.code).toBe(2);
    const missing = await cli(['runs', 'show', 'abcd1234-0000-4000-8000-000000000000'], () => ({ status: 404, body: { error: 'not_found', message: 'run not found' } }));
    expect(missing.code).toBe(2);
    expect(missing.requests).toHaveLength(1);
  });
});

describe('approve, reject, cancel, pause, resume', () => {
  it('post the reason to the right endpoint', async () => {
    const r = await cli(['approve', RUN_ID, '--reason', 'lgtm'], () => ({ status: 200, body: { id: RUN_ID, status: 'queued' } }));
    expect(r.requests[0]).toMatchObject({ method: 'POST', path: `/api/v1/runs/${RUN_ID}/approve`, body: { reason: 'lgtm' } });
    expect(r.stdout).toBe(`run ${RUN_ID} approved; now queued\n`);
    const c = await cli(['cancel', RUN_ID, '--reason', 'stop'], () => ({ status: 200, body: { id: RUN_ID, status: 'running' } }));
    expect(c.stdout).toContain('cancel requested');
    const conflict = await cli(['reject', RUN_ID, '--reason', 'no'], () => ({ status: 409, body: { error: 'conflict', status: 'succeeded', message: `run ${RUN_ID} is succeeded, not awaiting approval` } }));
    expect(conflict.code).toBe(1);
    const noReason = await cli(['approve', RUN_ID], () => ({ status: 200, body: {} }));
    expect(noReason.code).toBe(2);
  });

  it('pause --playbook and resume', async () => {
    const p = await cli(['pause', '--playbook', 'drain-gpu-node', '--reason', 'maintenance'], () => ({ status: 200, body: { paused: ['drain-gpu-node'] } }));
    expect(p.requests[0]).toMatchObject({ path: '/api/v1/pause', body: { reason: 'maintenance', playbook: 'drain-gpu-node' } });
    expect(p.stdout).toBe('paused playbook drain-gpu-node\npaused now: drain-gpu-node\n');
    const r = await cli(['resume', '--reason', 'done', '-o', 'json'], () => ({ status: 200, body: { paused: [] } }));
    expect(r.requests[0]).toMatchObject({ path: '/api/v1/resume', body: { reason: 'done' } });
    expect(JSON.parse(r.stdout)).toEqual({ paused: [] });
  });

  it('uses --url over REMEDIATOR_URL, and the default URL without either', async () => {
    const a = await cli(['runs', '--url', 'http://other:9/'], () => ({ status: 200, body: { items: [] } }));
    expect(a.stdout).toBe('No runs found.\n');
    expect(a.requests[0]!.host).toBe('other:9');
    const b = await cli(['runs'], () => ({ status: 200, body: { items: [] } }), {});
    expect(b.requests[0]!.host).toBe('127.0.0.1:8080');
    expect(b.requests[0]!.headers.authorization).toBeUndefined();
  });
});

describe('alerts', () => {
  it('lists the inbox with its filters: when, what, the decision, the rule, how often, the run or guard, and why', async () => {
    const items = [
      { fingerprint: 'f1', alertname: 'NodeDiskFull', labels: {}, status: 'firing', startsAt: '2026-01-01T02:00:00Z', firstSeenAt: '2026-01-01T02:00:00.000Z', lastSeenAt: '2026-01-01T03:00:00.000Z', seen: 51, rule: null, decision: 'unmatched', reason: 'no rule matches' },
      { fingerprint: 'f2', alertname: 'LLMHighLatencyP95', labels: {}, annotations: { summary: 'p95 3s' }, status: 'firing', startsAt: '2026-01-01T02:59:00Z', firstSeenAt: '2026-01-01T03:04:00.000Z', lastSeenAt: '2026-01-01T03:04:00.000Z', seen: 1, rule: 'scale-slow-llm', decision: 'enqueued', runId: RUN_ID },
    ];
    const r = await cli(['alerts', '--decision', 'unmatched', '--since', '24h', '--limit', '2'], () => ({ status: 200, body: { items, nextCursor: 'c2' } }));
    expect(r.code).toBe(0);
    expect(r.requests[0]).toMatchObject({ method: 'GET', path: '/api/v1/alerts', query: { decision: 'unmatched', since: '24h', limit: '2' } });
    expect(r.stdout).toMatch(/^LAST SEEN +ALERT +DECISION +RULE +SEEN +RUN +WHY\n/);
    expect(r.stdout).toMatch(/^5m +NodeDiskFull +unmatched +- +51 +- +no rule matches$/m);
    expect(r.stdout).toMatch(new RegExp(`^1m +LLMHighLatencyP95 +enqueued +scale-slow-llm +1 +${RUN_ID.slice(0, 8)} +p95 3s$`, 'm'));
    expect(r.stderr).toBe('(more alerts: --cursor c2)\n');
  });
});
