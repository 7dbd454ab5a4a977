/**
 * Regenerates the reference docs that are generated from the code: docs/configuration.md (the
 * zod schema of remediator.yaml) and docs/playbooks.md (the registered playbooks).
 *
 *   node --import tsx scripts/gen-reference-docs.ts           # write them
 *   node --import tsx scripts/gen-reference-docs.ts --check   # exit 1 when one is out of date
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { configReference } from '../src/config/config-reference.js';
import { playbookReference } from '../src/config/playbook-reference.js';
import { playbooks } from '../playbooks/index.js';

const check = process.argv.includes('--check');
const docs: [string, string][] = [
  ['docs/configuration.md', configReference()],
  ['docs/playbooks.md', playbookReference(playbooks)],
];
let stale = 0;
for (const [path, text] of docs) {
  const file = new URL(`../${path}`, import.meta.url);
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    // missing: written below, or stale under --check
  }
  if (current === text) continue;
  if (check) {
    stale++;
    process.stderr.write(`${path} is out of date: run node --import tsx scripts/gen-reference-docs.ts\n`);
  } else {
    writeFileSync(file, text);
    process.stdout.write(`wrote ${path}\n`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
