/**
 * Vitest global setup: the tests that spawn the real binary (`node bin/remediator.js`) run the
 * compiled dist/, so it is rebuilt here, once per run (and before each watch-mode rerun), whenever
 * src/, playbooks/ or the build's configuration changed since dist/ was built. Up to date, this
 * costs a hash of the sources (~20 ms); stale, one tsc emit (a few seconds).
 *
 * Type errors do not stop the tests (tsc still emits, as tsx ran the sources before); `npm test`
 * type-checks first. See scripts/build.mjs.
 */
import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';

const BUILD = new URL('../../scripts/build.mjs', import.meta.url).pathname;

function buildIfStale(): void {
  execFileSync(process.execPath, [BUILD, '--if-stale', '--quiet', '--allow-type-errors'], { stdio: 'inherit' });
}

export default function setup(project: TestProject): void {
  buildIfStale();
  project.onTestsRerun(() => buildIfStale());
}
