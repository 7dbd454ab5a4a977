/**
 * Shared by the tests of deploy/ (test/unit/deploy/): reading the repository's files and running
 * the external checkers (promtool, amtool, kubectl) when they are on PATH.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Doc = Record<string, any>;

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const at = (...parts: string[]) => join(ROOT, ...parts);
export const read = (...parts: string[]) => readFileSync(at(...parts), 'utf8');

/** The non-empty YAML documents of a text. */
export function yamlDocs(text: string): Doc[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null);
}

/** The non-empty YAML documents of a repository file. */
export function docs(...parts: string[]): Doc[] {
  return yamlDocs(read(...parts));
}

export function has(binary: string): boolean {
  return !spawnSync(binary, ['--version'], { stdio: 'ignore' }).error;
}

/** Runs a binary in the repository root; stdout and stderr together. */
export function run(binary: string, args: string[]): { status: number | null; output: string; stdout: string } {
  const r = spawnSync(binary, args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`, stdout: r.stdout ?? '' };
}

/** Appended to a test's name when the binary it needs is missing (the test is then skipped). */
export const skipNote = (binary: string, pkg: string, present: boolean) =>
  present ? '' : ` [skipped: ${binary} not on PATH; apt-get install ${pkg}]`;
