import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient, ApiError, displayUrl } from '../../../src/cli/client/api-client.js';
import { CliError, exitCodeForRun, exitCodeForStatus } from '../../../src/cli/client/exit-codes.js';
import { memoryOutput } from '../../../src/cli/client/output.js';
import { redact, reportError } from '../../../src/cli/client/report-error.js';
import { resolveClientOptions } from '../../../src/cli/client/client-options.js';
import { fakeFetch } from './fake-api.js';

const TOKEN = 'secret-token-abcdef';

describe('exit codes (docs/cli.md)', () => {
  it('maps HTTP statuses', () => {
    expect([400, 401, 403, 404, 409, 413, 500, 502, 503].map(exitCodeForStatus)).toEqual([2, 3, 3, 2, 1, 2, 4, 4, 4]);
  });
  it('maps where a waited-for run ended', () => {
    expect(exitCodeForRun('succeeded')).toBe(0);
    for (const s of ['failed', 'blocked', 'rejected', 'expired', 'cancelled'] as const) expect(exitCodeForRun(s)).toBe(1);
    expect(exitCodeForRun('skipped')).toBe(5);
    expect(exitCodeForRun('awaiting_approval')).toBe(5);
  });
});

describe('client options', () => {
  it('flags, then REMEDIATOR_URL / REMEDIATOR_TOKEN, then the default URL', () => {
    expect(resolveClientOptions({ output: 'table' }, {})).toEqual({ url: 'http://127.0.0.1:8080', output: 'table', urlFrom: 'default' });
    expect(resolveClientOptions({ output: 'json' }, { REMEDIATOR_URL: 'http://r:9', REMEDIATOR_TOKEN: 't' })).toEqual({ url: 'http://r:9', token: 't', output: 'json', urlFrom: 'env' });
    expect(resolveClientOptions({ url: 'http://flag', token: 'f', output: 'table' }, { REMEDIATOR_URL: 'http://r:9', REMEDIATOR_TOKEN: 't' })).toMatchObject({ url: 'http://flag', token: 'f' });
  });
});

describe('ApiClient', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  it('sends the bearer token, JSON bodies and query strings under the base path', async () => {
    const api = fakeFetch(() => ({ status: 200, body: { ok: true } }));
    const client = new ApiClient({ url: 'http://h:1/prefix', token: TOKEN, fetch: api.fetch });
    await client.post('api/v1/runs', { a: 1 });
    await client.get('api/v1/runs', { status: 'failed', limit: 5, playbook: undefined });
    expect(api.requests[0]).toMatchObject({ method: 'POST', path: '/prefix/api/v1/runs', body: { a: 1 }, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } });
    expect(api.requests[1]).toMatchObject({ method: 'GET', path: '/prefix/api/v1/runs', query: { status: 'failed', limit: '5' } });
  });

  it('turns error bodies into ApiError with the exit code of their status', async () => {
    const api = fakeFetch(() => ({ status: 400, body: { error: 'invalid_request', message: 'invalid run request', details: [{ path: 'params.maxReplicas', message: 'expected number' }] } }));
    const err = await new ApiClient({ url: 'http://h:1', fetch: api.fetch }).post('api/v1/runs', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).exitCode).toBe(2);
    const out = memoryOutput();
    expect(reportError(err, out)).toBe(2);
    expect(out.stderr).toBe('error: 400 invalid_request: invalid run request\n  params.maxReplicas: expected number\n');
  });

  it('names the guard of a 409 blocked', () => {
    const out = memoryOutput();
    const code = reportError(new ApiError(409, { error: 'blocked', guard: 'paused', runId: 'r1', message: 'blocked by guard paused: automation is paused globally' }), out, { output: 'json' });
    expect(code).toBe(1);
    expect(out.stderr).toContain('refused: blocked by guard paused');
    expect(out.stderr).toContain('guard: paused');
    expect(JSON.parse(out.stdout)).toMatchObject({ status: 409, error: 'blocked', guard: 'paused' });
  });

  it('unreachable, timeouts and non-JSON 5xx are exit 4', async () => {
    server = createServer((req, res) => {
      if (req.url?.includes('slow')) return; // never answers
      res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>');
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new ApiClient({ url, token: TOKEN, timeoutMs: 300 });
    const bad = (await client.get('api/v1/status').catch((e: unknown) => e)) as CliError;
    expect(bad).toBeInstanceOf(CliError);
    expect(bad.exitCode).toBe(4);
    expect(bad.message).toContain('502');
    const slow = (await client.get('slow').catch((e: unknown) => e)) as CliError;
    expect(slow.exitCode).toBe(4);
    expect(slow.message).toContain('no answer within');
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    const down = (await client.get('api/v1/status').catch((e: unknown) => e)) as CliError;
    expect(down.exitCode).toBe(4);
    expect(down.message).toMatch(/cannot reach the Remediator API at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });

  it('a bad URL is a usage error; printed URLs drop user info', () => {
    expect(() => new ApiClient({ url: 'not a url' })).toThrow(CliError);
    expect(() => new ApiClient({ url: 'ftp://h' })).toThrow(/only http and https/);
    expect(displayUrl('https://user:pw@h:8080/x?token=1')).toBe('https://h:8080/x');
  });

  it('never writes the token', () => {
    expect(redact(`Bearer ${TOKEN} and ${TOKEN}`, TOKEN)).toBe('Bearer *** and ***');
    const out = memoryOutput();
    reportError(new Error(`boom ${TOKEN}`), out, { token: TOKEN });
    expect(out.stderr).not.toContain(TOKEN);
  });
});
