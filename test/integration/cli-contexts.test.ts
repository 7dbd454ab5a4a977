/**
 * kubectl-style contexts through the real binary (`node bin/remediator.js`) against a running
 * service, with a temporary XDG_CONFIG_HOME: login saves a checked token 0600 and makes it
 * current, a refused token saves nothing, client verbs without flags or variables use the current
 * context, `contexts` lists without tokens, `contexts use` switches. Each invocation starts tsx
 * (~4 s), so independent ones run side by side.
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { saveContext } from '../../src/cli/client/context-store.js';
import { tempConfigHome, type ConfigHome } from '../helpers/config-home.js';
import { startHarness, TOKENS, type Harness } from '../helpers/harness.js';
import { freePort } from '../helpers/redis-server.js';

const BIN = new URL('../../bin/remediator.js', import.meta.url).pathname;
const SECRETS = Object.values(TOKENS);

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Everything the binary printed, checked after each test for tokens. */
const printed: { args: string[]; text: string }[] = [];

/** Runs the binary with only PATH and the temporary config home: no REMEDIATOR_URL or REMEDIATOR_TOKEN. */
function cli(home: ConfigHome, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...home.env }, timeout: 50_000 }, (err, stdout, stderr) => {
      printed.push({ args, text: `${stdout}\n${stderr}` });
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

function shown(r: CliResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

describe('remediator login and contexts against a running service', () => {
  let h: Harness;
  let home: ConfigHome;
  let refusedHome: ConfigHome;
  let name: string;
  beforeAll(async () => {
    h = await startHarness();
    home = tempConfigHome();
    refusedHome = tempConfigHome();
    name = `127.0.0.1-${new URL(h.main.url).port}`;
  });
  afterEach(() => {
    // No output of any invocation ever carries a token.
    for (const { args, text } of printed.splice(0)) for (const secret of SECRETS) expect(text, `remediator ${args.join(' ')} printed a token`).not.toContain(secret);
  });
  afterAll(async () => {
    home?.remove();
    refusedHome?.remove();
    await h?.stop();
  });

  it('login with a good token saves a 0600 context and makes it current; a refused token exits 3 and saves nothing', async () => {
    const good = join(home.dir, 'operator.token');
    const bad = join(refusedHome.dir, 'wrong.token');
    writeFileSync(good, `${TOKENS.operator}\n`);
    writeFileSync(bad, `${TOKENS.operator}-not\n`);
    const [ok, refused] = await Promise.all([
      cli(home, ['login', '--url', h.main.url, '--token-file', good]),
      cli(refusedHome, ['login', '--url', h.main.url, '--token-file', bad, '--context', 'wrong']),
    ]);
    expect(ok.code, shown(ok)).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`^logged in to ${h.main.url} (as .+|\\(token accepted\\)); context ${name} is current\\n$`));
    expect(statSync(home.file).mode & 0o777).toBe(0o600);
    expect(statSync(join(home.dir, 'remediator')).mode & 0o777).toBe(0o700);
    expect(parse(readFileSync(home.file, 'utf8'))).toEqual({ current: name, contexts: [{ name, url: h.main.url, token: TOKENS.operator }] });

    expect(refused.code, shown(refused)).toBe(3);
    expect(refused.stderr).toContain('401');
    expect(refused.stderr).toContain('nothing was saved');
    expect(() => statSync(refusedHome.file)).toThrow(/ENOENT/);
  });

  it('without flags or variables, runs uses the current context; contexts lists without tokens; contexts use switches', async () => {
    // A second context, on a port nothing listens on, saved as the demo would (not current).
    const dead = `http://127.0.0.1:${await freePort()}`;
    saveContext({ name: 'dead', url: dead, token: TOKENS.viewer }, { env: home.env, makeCurrent: false });

    const [runs, table, json] = await Promise.all([cli(home, ['runs']), cli(home, ['contexts']), cli(home, ['contexts', '-o', 'json'])]);
    expect(runs.code, shown(runs)).toBe(0);
    expect(runs.stdout).toMatch(/^(ID\s+STATUS|No runs found\.)/);
    expect(table.code, shown(table)).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^CURRENT\\s+NAME\\s+URL\\n\\*\\s+${name.replace(/\./g, '\\.')}\\s+${h.main.url}\\n\\s+dead\\s+${dead}\\n$`));
    expect(json.code, shown(json)).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      current: name,
      contexts: [
        { name, url: h.main.url, current: true },
        { name: 'dead', url: dead, current: false },
      ],
    });

    const use = await cli(home, ['contexts', 'use', 'dead']);
    expect(use.code, shown(use)).toBe(0);
    expect(use.stdout).toBe('switched to context dead\n');
    expect(parse(readFileSync(home.file, 'utf8')).current).toBe('dead');
    expect(statSync(home.file).mode & 0o777).toBe(0o600);

    const [down, picked, unknown] = await Promise.all([cli(home, ['runs']), cli(home, ['runs', '--context', name]), cli(home, ['contexts', 'use', 'nope'])]);
    expect(down.code, shown(down)).toBe(4);
    expect(down.stderr).toContain(`cannot reach the Remediator API at ${dead}`);
    expect(down.stderr).toContain('that is context "dead"');
    expect(picked.code, shown(picked)).toBe(0);
    expect(unknown.code, shown(unknown)).toBe(2);
    expect(unknown.stderr).toContain('no context "nope"');
  });
});
