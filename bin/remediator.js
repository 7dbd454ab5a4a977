#!/usr/bin/env node
// Runs the compiled CLI in dist/ (`npm run build`; `npm ci` builds it through `prepare`).
// After editing src/, rebuild (`npm run build`) or run the sources with `npm run dev -- <verb>`.
import { existsSync } from 'node:fs';

const main = new URL('../dist/src/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('remediator: dist/ is missing; run `npm run build` (TypeScript is a development dependency)\n');
  process.exit(1);
}
await import(main.href);
