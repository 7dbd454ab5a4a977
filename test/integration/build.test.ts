import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../../src/version.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: ROOT, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** `npm run build` compiles the product to dist/, and the compiled CLI runs. */
describe('npm run build', () => {
  it('compiles to dist/ with the page and the seed, and the compiled CLI answers', async () => {
    const build = await run('npm', ['run', 'build']);
    expect(build.code, build.stderr + build.stdout).toBe(0);
    for (const file of ['dist/src/main.js', 'dist/src/ui/index.html', 'dist/src/ui/app.js', 'dist/src/sim/seeds/gpu-cluster.yaml', 'dist/playbooks/index.js']) {
      expect(existsSync(`${ROOT}/${file}`), file).toBe(true);
    }
    const version = await run(process.execPath, ['dist/src/main.js', '--version']);
    expect(version.stdout.trim()).toBe(VERSION);
    const playbooks = await run(process.execPath, ['dist/src/main.js', 'playbooks']);
    expect(playbooks.stdout).toMatch(/drain-gpu-node/);
  }, 180_000);
});
