import { chmodSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerAuditVerbs } from '../../../src/cli/client/audit-verbs.js';
import { readContexts, saveContext } from '../../../src/cli/client/context-store.js';
import { memoryOutput } from '../../../src/cli/client/output.js';
import { registerClientVerbs } from '../../../src/cli/client/register-client-verbs.js';
import { tempConfigHome, type ConfigHome } from '../../helpers/config-home.js';
import { fakeFetch, type FakeRequest, type FakeRoute } from './fake-api.js';

const GOOD = 'good-token-0123456789abcdef';
const BAD = 'bad-token-0123456789abcdef';
const AM = 'am-token-0123456789abcdef';
const OTHER = 'other-token-0123456789abcdef';
const TOKENS = [GOOD, BAD, AM, OTHER];

/** A server that knows GOOD (an operator, named when `principal` is on) and AM (alertmanager: 403 on status). */
function server(opts: { principal?: boolean } = {}): FakeRoute {
  return (req) => {
    const auth = req.headers.authorization;
    if (auth === `Bearer ${AM}`) return { status: 403, body: { error: 'forbidden', message: 'role alertmanager may not do this; it needs viewer' } };
    if (auth !== `Bearer ${GOOD}` && auth !== `Bearer ${OTHER}`) return { status: 401, body: { error: 'unauthorized', message: 'missing or invalid token' } };
    if (req.path.endsWith('/api/v1/status')) return { status: 200, body: { version: '0.1.0', role: 'all', dryRun: false, paused: {}, ...(opts.principal ? { principal: { name: 'alice', role: 'operator' } } : {}) } };
    if (req.path.endsWith('/api/v1/runs')) return { status: 200, body: { items: [], nextCursor: null } };
    if (req.path.endsWith('/api/v1/audit/verify')) return { status: 200, body: { ok: true, checked: 0 } };
    return { status: 404, body: { error: 'not_found', message: 'no such route' } };
  };
}

const unreachable: typeof fetch = async () => {
  throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) });
};

describe('login and contexts (with a temporary XDG_CONFIG_HOME)', () => {
  let home: ConfigHome;
  let all: string[];
  let requests: FakeRequest[];
  beforeEach(() => {
    home = tempConfigHome();
    all = [];
    requests = [];
  });
  afterEach(() => {
    // Whatever a test did, no output ever carried a token.
    for (const text of all) for (const t of TOKENS) expect(text).not.toContain(t);
    home.remove();
  });

  async function cli(argv: string[], opts: { route?: FakeRoute; fetch?: typeof fetch; env?: NodeJS.ProcessEnv } = {}) {
    const out = memoryOutput();
    const api = fakeFetch(opts.route ?? server());
    let code: number | undefined;
    const program = new Command('remediator').exitOverride((err) => {
      throw err;
    });
    program.configureOutput({ writeOut: (s) => out.out(s), writeErr: (s) => out.err(s) });
    const deps = { env: { ...home.env, ...opts.env }, out, fetch: opts.fetch ?? api.fetch, exit: (c: number) => void (code = c) };
    registerClientVerbs(program, deps);
    registerAuditVerbs(program, deps);
    try {
      await program.parseAsync(argv, { from: 'user' });
    } catch (err) {
      code = (err as { exitCode?: number }).exitCode === 0 ? 0 : 2;
    }
    all.push(out.stdout, out.stderr);
    requests.push(...api.requests);
    return { code, stdout: out.stdout, stderr: out.stderr, requests: api.requests };
  }

  function tokenFile(content: string, name = 'token'): string {
    const path = join(home.dir, name);
    writeFileSync(path, content);
    return path;
  }

  it('login checks the token with GET /api/v1/status, saves the context 0600 and makes it current', async () => {
    const r = await cli(['login', '--url', 'http://127.0.0.1:8080/', '--token-file', tokenFile(`  ${GOOD}\n\n`)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.requests).toEqual([expect.objectContaining({ method: 'GET', path: '/api/v1/status', headers: expect.objectContaining({ authorization: `Bearer ${GOOD}` }) })]);
    expect(r.stdout).toBe('logged in to http://127.0.0.1:8080 (token accepted); context 127.0.0.1-8080 is current\n');
    expect(r.stderr).toBe('');
    expect(statSync(home.file).mode & 0o777).toBe(0o600);
    expect(readContexts({ env: home.env })).toEqual({ path: home.file, current: '127.0.0.1-8080', contexts: [{ name: '127.0.0.1-8080', url: 'http://127.0.0.1:8080', token: GOOD }] });
  });

  it('login names the caller when the status tells it, takes --context NAME before or after the verb, and says when it replaces one', async () => {
    const a = await cli(['login', '--url', 'https://rem.example.com', '--token-file', tokenFile(GOOD), '--context', 'prod'], { route: server({ principal: true }) });
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe('logged in to https://rem.example.com as alice (operator); context prod is current\n');
    const b = await cli(['--context', 'prod', 'login', '--url', 'https://rem2.example.com', '--token-file', tokenFile(OTHER, 'other')]);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toContain('context prod was saved before; its URL and token are replaced');
    expect(readContexts({ env: home.env }).contexts).toEqual([{ name: 'prod', url: 'https://rem2.example.com', token: OTHER }]);
  });

  it('login notes when REMEDIATOR_URL or REMEDIATOR_TOKEN would override the context', async () => {
    const r = await cli(['login', '--url', 'http://h:1', '--token-file', tokenFile(GOOD)], { env: { REMEDIATOR_URL: 'http://other:2' } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('note: REMEDIATOR_URL is set and takes precedence over the current context');
  });

  it.each([
    ['a wrong token', BAD, 3, /401 unauthorized[\s\S]*was refused; nothing was saved/],
    ['an alertmanager token', AM, 3, /403 forbidden[\s\S]*needs the viewer role or above\); nothing was saved/],
  ])('login with %s exits 3 and saves nothing', async (_what, token, code, message) => {
    saveContext({ name: 'prod', url: 'http://prod:1', token: OTHER }, { env: home.env });
    const before = readFileSync(home.file, 'utf8');
    const r = await cli(['login', '--url', 'http://h:1', '--token-file', tokenFile(token)]);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    expect(readFileSync(home.file, 'utf8')).toBe(before);
  });

  it('login against an unreachable server exits 4 and creates no file', async () => {
    const r = await cli(['login', '--url', 'http://127.0.0.1:1', '--token-file', tokenFile(GOOD)], { fetch: unreachable });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/cannot reach the Remediator API at http:\/\/127\.0\.0\.1:1[\s\S]*nothing was saved/);
    expect(() => statSync(home.file)).toThrow(/ENOENT/);
  });

  it('login refuses an empty, missing or multi-line token file, a bad URL or name: exit 2, no request, nothing saved', async () => {
    const cases: [string[], RegExp][] = [
      [['--url', 'http://h:1', '--token-file', tokenFile(' \n\t\n', 'empty')], /the token file .*empty is empty/],
      [['--url', 'http://h:1', '--token-file', join(home.dir, 'missing')], /cannot read the token file .*missing: ENOENT/],
      [['--url', 'http://h:1', '--token-file', tokenFile(`${GOOD}\n${OTHER}\n`, 'two')], /the token in .*two must be one line/],
      [['--url', 'ftp://h', '--token-file', tokenFile(GOOD)], /only http and https/],
      [['--url', 'http://h:1', '--token-file', tokenFile(GOOD), '--context', '../x'], /invalid context name/],
      [['--url', 'http://h:1'], /required option '--token-file <file>'/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(['login', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(requests).toHaveLength(0);
    expect(() => statSync(home.file)).toThrow(/ENOENT/);
  });

  it('client verbs use the current context; --context picks another; the variables win over the current one', async () => {
    saveContext({ name: 'a', url: 'http://a:1', token: GOOD }, { env: home.env });
    saveContext({ name: 'b', url: 'http://b:2/prefix', token: OTHER }, { env: home.env, makeCurrent: false });
    const current = await cli(['runs']);
    expect(current.code, current.stderr).toBe(0);
    expect(current.requests[0]).toMatchObject({ host: 'a:1', path: '/api/v1/runs', headers: { authorization: `Bearer ${GOOD}` } });
    const [before, after, audit] = await Promise.all([cli(['--context', 'b', 'runs']), cli(['runs', 'list', '--context', 'b']), cli(['audit', 'verify', '--context', 'b'])]);
    for (const r of [before, after, audit]) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.requests[0]).toMatchObject({ host: 'b:2', headers: { authorization: `Bearer ${OTHER}` } });
      expect(r.requests[0]!.path).toMatch(/^\/prefix\/api\/v1\//);
    }
    const env = await cli(['runs'], { env: { REMEDIATOR_URL: 'http://env:3' } });
    expect(env.requests[0]).toMatchObject({ host: 'env:3' });
    expect(env.requests[0]!.headers.authorization).toBeUndefined();
  });

  it("a context's refused token says to log in again; nothing configured says how to configure", async () => {
    saveContext({ name: 'a', url: 'http://a:1', token: BAD }, { env: home.env });
    const refused = await cli(['runs']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('the token of context "a" was refused; log in again: remediator login --url http://a:1 --token-file FILE --context a');
    home.remove();
    const nothing = await cli(['runs'], { fetch: unreachable });
    expect(nothing.code).toBe(4);
    expect(nothing.stderr).toContain('no server is configured, so http://127.0.0.1:8080 was tried: remediator login --url URL --token-file FILE');
    const unknown = await cli(['runs', '--context', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('error: no context "nope"');
  });

  it('contexts lists NAME, URL and the current one, never tokens; -o json too; use switches; delete removes', async () => {
    saveContext({ name: 'prod', url: 'https://prod.example.com', token: GOOD }, { env: home.env });
    saveContext({ name: 'demo', url: 'http://127.0.0.1:9000', token: OTHER }, { env: home.env });
    const list = await cli(['contexts']);
    expect(list.code).toBe(0);
    expect(list.stdout).toBe(['CURRENT  NAME  URL', '         prod  https://prod.example.com', '*        demo  http://127.0.0.1:9000', ''].join('\n'));
    const json = await cli(['contexts', '-o', 'json']);
    expect(JSON.parse(json.stdout)).toEqual({
      current: 'demo',
      contexts: [
        { name: 'prod', url: 'https://prod.example.com', current: false },
        { name: 'demo', url: 'http://127.0.0.1:9000', current: true },
      ],
    });
    const use = await cli(['contexts', 'use', 'prod']);
    expect(use).toMatchObject({ code: 0, stdout: 'switched to context prod\n' });
    expect(readContexts({ env: home.env }).current).toBe('prod');
    const unknown = await cli(['contexts', 'use', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('error: no context "nope"');
    expect(unknown.stderr).toContain('contexts: prod, demo');
    expect(readContexts({ env: home.env }).current).toBe('prod');
    const del = await cli(['contexts', 'delete', 'prod']);
    expect(del).toMatchObject({ code: 0, stdout: 'deleted context prod; no context is current now (remediator contexts use NAME)\n' });
    expect(readContexts({ env: home.env })).toMatchObject({ contexts: [{ name: 'demo' }] });
    expect((await cli(['contexts', 'delete', 'prod'])).code).toBe(2);
    expect(requests).toHaveLength(0);
  });

  it('contexts with none says how to log in', async () => {
    const r = await cli(['contexts']);
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(r.stderr).toContain('no contexts yet');
    expect(r.stderr).toContain('remediator login --url URL --token-file FILE');
  });

  it('a corrupt file is a clear error naming it (exit 2), no stack trace, for every verb that reads it', async () => {
    mkdirSync(join(home.dir, 'remediator'), { recursive: true });
    writeFileSync(home.file, `current: a\ncontexts:\n  - name: a\n    token: ${GOOD}\n   url: [\n`, { mode: 0o600 });
    for (const argv of [['contexts'], ['runs'], ['contexts', 'use', 'a'], ['login', '--url', 'http://h:1', '--token-file', tokenFile(GOOD)]]) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toContain(`error: the CLI config ${home.file} is corrupt: not valid YAML`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(requests).toHaveLength(0);
  });

  it('a file readable by others is set back to 0600 with a warning', async () => {
    saveContext({ name: 'a', url: 'http://a:1', token: GOOD }, { env: home.env });
    chmodSync(home.file, 0o644);
    const r = await cli(['contexts']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: .*config\.yaml was mode 0644, readable by others \(it holds tokens\); set it to 0600/);
    expect(statSync(home.file).mode & 0o777).toBe(0o600);
  });
});
