/**
 * `npm run build` and what ships: the build runs in a scratch copy of the sources (so it never
 * replaces the dist/ that other test files are running), then the compiled CLI runs from a
 * production layout like the image's: dist/, bin/, package.json and the production dependencies
 * only (no src/, no test/, no tsx or TypeScript), as `npm ci --omit=dev` installs them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../../src/version.js';
import { writeServeDir } from '../helpers/serve-dir.js';
import { startRedisServer, freePort, type RedisServerHandle } from '../helpers/redis-server.js';
import { startSimCluster, type SimCluster } from '../../src/sim/sim-cluster.js';
import { fixture, poll, TOKENS } from '../helpers/harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** What `npm run build` reads (besides node_modules). */
const BUILD_INPUTS = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts', 'bin', 'src', 'playbooks'];
/** Never needed at run time: TypeScript loaders and compilers. */
const LOADERS = ['tsx', 'ts-node', 'typescript', 'esbuild', '@swc/core', '@esbuild-kit/esm-loader'];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }): Promise<Result> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeout ?? 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

interface LockPackage {
  dev?: boolean;
  optional?: boolean;
}

/** Top-level packages `npm ci --omit=dev` installs, from package-lock.json. */
function productionPackages(): string[] {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockPackage> };
  return Object.entries(lock.packages)
    .filter(([path, p]) => path.startsWith('node_modules/') && !path.slice('node_modules/'.length).includes('/node_modules/') && !p.dev)
    .map(([path]) => path.slice('node_modules/'.length));
}

describe('npm run build', () => {
  let src: string;
  beforeAll(() => {
    src = mkdtempSync(join(tmpdir(), 'remediator-build-'));
    for (const path of BUILD_INPUTS) cpSync(join(ROOT, path), join(src, path), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'), 'dir');
  });
  afterAll(() => rmSync(src, { recursive: true, force: true }));

  it('compiles to dist/ with the page, the seed and the demo notifications; a second --if-stale run is a no-op', async () => {
    const build = await run('npm', ['run', 'build'], { cwd: src, timeout: 180_000 });
    expect(build.code, build.stderr + build.stdout).toBe(0);
    for (const file of [
      'dist/src/main.js',
      'dist/src/ui/index.html',
      'dist/src/ui/app.js',
      'dist/src/ui/style.css',
      'dist/src/sim/seeds/gpu-cluster.yaml',
      'dist/playbooks/index.js',
      'dist/src/cli/demo-notifications/firing-kube-pod-oom-killed.json',
      'dist/.build-inputs',
    ]) {
      expect(existsSync(join(src, file)), file).toBe(true);
    }
    // Only the compiled program: no TypeScript sources and no test code in dist/.
    expect(existsSync(join(src, 'dist/src/main.ts'))).toBe(false);
    expect(existsSync(join(src, 'dist/test/helpers'))).toBe(false);
    const again = await run(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: src });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/up to date/);
    // An edited source makes dist/ stale (the tests' global setup would rebuild it).
    writeFileSync(join(src, 'src/version.ts'), readFileSync(join(src, 'src/version.ts'), 'utf8') + '\n');
    const fresh = await run(process.execPath, ['--input-type=module', '-e', "const m = await import('./scripts/build.mjs'); process.stdout.write(String(m.isFresh()))"], { cwd: src });
    expect(fresh.stdout, fresh.stderr).toBe('false');
  }, 240_000);

  describe('the production layout (dist/, bin/, package.json, production dependencies)', () => {
    let app: string;
    let redis: RedisServerHandle;
    let sim: SimCluster;
    let dir: string;
    const bin = (args: string[], env: NodeJS.ProcessEnv = {}, timeout = 60_000) => run(process.execPath, ['bin/remediator.js', ...args], { cwd: app, env: { PATH: process.env.PATH, ...env }, timeout });

    beforeAll(async () => {
      if (!existsSync(join(src, 'dist/src/main.js'))) {
        const build = await run('npm', ['run', 'build'], { cwd: src, timeout: 180_000 });
        expect(build.code, build.stderr).toBe(0);
      }
      app = mkdtempSync(join(tmpdir(), 'remediator-app-'));
      for (const path of ['dist', 'bin', 'package.json']) cpSync(join(src, path), join(app, path), { recursive: true });
      for (const name of productionPackages()) {
        if (!existsSync(join(ROOT, 'node_modules', name))) continue; // an optional package for another platform
        mkdirSync(dirname(join(app, 'node_modules', name)), { recursive: true });
        symlinkSync(join(ROOT, 'node_modules', name), join(app, 'node_modules', name), 'dir');
      }
      redis = await startRedisServer();
      sim = await startSimCluster({ port: 0 });
      ({ dir } = writeServeDir({ simUrl: sim.url, redisUrl: redis.url, prefix: 'build-test', amToken: TOKENS.alertmanager, prefixDir: 'remediator-app-config-' }));
    }, 240_000);
    afterAll(async () => {
      await sim?.close();
      await redis?.stop();
      if (app) rmSync(app, { recursive: true, force: true });
    });

    it('no TypeScript loader or compiler is a production dependency', () => {
      const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
      for (const name of LOADERS) expect(pkg.dependencies, name).not.toHaveProperty(name);
      expect(pkg.devDependencies).toHaveProperty('tsx');
      const production = productionPackages();
      for (const name of LOADERS) expect(production, name).not.toContain(name);
      expect(production).toContain('express');
      expect(existsSync(join(app, 'node_modules/tsx'))).toBe(false);
      expect(existsSync(join(app, 'src'))).toBe(false);
    });

    it('--version, --help, playbooks and schema answer', async () => {
      const [version, help, playbooks, schema] = await Promise.all([bin(['--version']), bin(['--help']), bin(['playbooks']), bin(['schema'])]);
      expect(version.stdout.trim(), version.stderr).toBe(VERSION);
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/serve/);
      expect(playbooks.stdout, playbooks.stderr).toMatch(/drain-gpu-node/);
      expect(Object.keys((JSON.parse(schema.stdout) as { properties: object }).properties)).toContain('rules');
    });

    it('serve: ready, acts on an alert, serves the review page, exits 0 on SIGTERM', async () => {
      const port = await freePort();
      const child = spawn(process.execPath, ['bin/remediator.js', 'serve', '--config', join(dir, 'remediator.yaml')], {
        cwd: app,
        env: { PATH: process.env.PATH, PORT: String(port), LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        await poll(async () => ((await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined), 30_000, 'serve to be ready');
        const page = await fetch(`http://127.0.0.1:${port}/ui/`);
        expect(page.status).toBe(200);
        const script = /src="(app\.js\?v=[0-9a-f]+)"/.exec(await page.text())?.[1];
        expect(script).toBeDefined();
        expect((await fetch(`http://127.0.0.1:${port}/ui/${script}`)).status).toBe(200);
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/alerts`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.alertmanager}` },
          body: JSON.stringify(fixture('firing-llm-high-latency-p95').body),
        });
        expect(res.status).toBe(200);
        await poll(async () => (sim.requests.some((r) => r.method === 'PATCH' && r.path.endsWith('/scale')) ? true : undefined), 20_000, 'the scale');
        child.kill('SIGTERM');
        expect(await exited, stderr).toBe(0);
      } finally {
        child.kill('SIGKILL');
      }
      expect(stderr).not.toMatch(/"level":50/);
    });

    it('sim serves the bundled seed', async () => {
      const child = spawn(process.execPath, ['bin/remediator.js', 'sim', '--port', String(await freePort())], { cwd: app, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      try {
        const nodes = await poll(async () => /\((\d+) nodes/.exec(stdout)?.[1], 30_000, 'sim to describe its cluster');
        expect(Number(nodes)).toBeGreaterThan(0);
      } finally {
        child.kill('SIGKILL');
      }
    });

    it('demo --once replays the captured notifications and exits 0', async () => {
      const res = await bin(['demo', '--once'], { HOME: mkdtempSync(join(tmpdir(), 'remediator-demo-home-')) }, 240_000);
      expect(res.code, res.stderr + res.stdout).toBe(0);
      expect(res.stdout).toMatch(/Audit chain: verified/);
      expect(res.stdout).toMatch(/^ {2}SUCCEEDED /m);
    }, 250_000);

    it('without dist/ the bin says to build', async () => {
      const bare = mkdtempSync(join(tmpdir(), 'remediator-bare-'));
      cpSync(join(app, 'bin'), join(bare, 'bin'), { recursive: true });
      cpSync(join(app, 'package.json'), join(bare, 'package.json'));
      const res = await run(process.execPath, ['bin/remediator.js', '--help'], { cwd: bare });
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/npm run build/);
      rmSync(bare, { recursive: true, force: true });
    });
  });
});
