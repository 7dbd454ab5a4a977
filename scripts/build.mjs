#!/usr/bin/env node
/**
 * `npm run build`: compiles src/ and playbooks/ to dist/ (tsc -p tsconfig.build.json), copies the
 * files the compiled code reads at run time (the page's assets, the simulated cluster's seed, the
 * notifications the demo replays), and records a hash of its inputs in dist/.build-inputs.
 *
 *   node scripts/build.mjs             build
 *   node scripts/build.mjs --if-stale  build unless dist/ was built from the current inputs
 *   node scripts/build.mjs --prepare   as --if-stale, for npm's `prepare` (run by `npm ci`) and
 *                                      `npm run demo|start|sim`; a production install without
 *                                      TypeScript keeps its dist/
 *   --quiet                            no "up to date" line
 *   --allow-type-errors                keep tsc's output despite type errors, like tsx would run
 *                                      the sources (the tests' global setup and the benchmark:
 *                                      `npm test` type-checks separately); marked in the stamp,
 *                                      so a plain or --prepare build does not take it as fresh
 *
 * The output is written to a scratch directory and then renamed over dist/, so a process that
 * starts the bin while another build runs (two test runs side by side) never loads half-written
 * files.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');
const STAMP = '.build-inputs';
/** Compiled by tsc (see tsconfig.build.json); their other files are copied as they are. */
const COMPILED_DIRS = ['src', 'playbooks'];
/** Copied as they are, besides the compiled directories' own non-TypeScript files. */
const DATA_DIRS = [];
const CONFIG_FILES = ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'scripts/build.mjs'];

function walk(dir) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

function tscPath() {
  try {
    const pkg = join(ROOT, 'node_modules', 'typescript', 'package.json');
    const bin = JSON.parse(readFileSync(pkg, 'utf8')).bin?.tsc;
    return bin ? join(dirname(pkg), bin) : undefined;
  } catch {
    return undefined;
  }
}

/** sha256 over the names and contents of every input of the build, and the compiler's version. */
export function inputsHash() {
  const hash = createHash('sha256');
  const files = [...COMPILED_DIRS, ...DATA_DIRS].flatMap((d) => walk(join(ROOT, d)));
  files.push(...CONFIG_FILES.map((f) => join(ROOT, f)).filter((f) => existsSync(f)));
  for (const file of files.sort()) {
    hash.update(relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  const tsc = tscPath();
  hash.update(tsc ? readFileSync(join(dirname(tsc), '..', 'package.json')) : 'no-typescript');
  return hash.digest('hex');
}

const TYPE_ERRORS = ' (type errors)';

/** dist/ was built from these inputs (and, unless allowTypeErrors, without type errors). */
export function isFresh(hash = inputsHash(), { allowTypeErrors = false } = {}) {
  try {
    const stamp = readFileSync(join(DIST, STAMP), 'utf8').trim();
    const ok = stamp === hash || (allowTypeErrors && stamp === hash + TYPE_ERRORS);
    return ok && existsSync(join(DIST, 'src', 'main.js'));
  } catch {
    return false;
  }
}

export function build({ allowTypeErrors = false } = {}) {
  const tsc = tscPath();
  if (!tsc) throw new Error('TypeScript is not installed (a development dependency): run `npm ci` without --omit=dev');
  const started = Date.now();
  const hash = inputsHash();
  const scratch = scratchDir();
  const out = join(scratch, `dist-${process.pid}-${Date.now()}`);
  try {
    const res = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', out], { cwd: ROOT, stdio: 'inherit' });
    // tsc still emits on type errors (exit 2); without output (or killed) there is nothing to keep.
    const emitted = existsSync(join(out, 'src', 'main.js'));
    const typeErrors = res.status !== 0;
    if (typeErrors && !(allowTypeErrors && res.status === 2 && emitted)) {
      throw new Error(`tsc -p tsconfig.build.json failed (exit ${res.status ?? res.signal})`);
    }
    if (typeErrors) process.stderr.write('build: WARNING: tsc reported errors (above); dist/ holds its output anyway (--allow-type-errors)\n');
    for (const dir of COMPILED_DIRS) {
      cpSync(join(ROOT, dir), join(out, dir), { recursive: true, filter: (f) => statSync(f).isDirectory() || !f.endsWith('.ts') });
    }
    for (const dir of DATA_DIRS) cpSync(join(ROOT, dir), join(out, dir), { recursive: true });
    writeFileSync(join(out, STAMP), `${hash}${typeErrors ? TYPE_ERRORS : ''}\n`);
    swapIntoPlace(out, scratch);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  process.stderr.write(`build: dist/ compiled in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

/** Renames `out` over dist/ (the old one moved aside first; retried if another build got in between). */
function swapIntoPlace(out, scratch) {
  for (let attempt = 0; ; attempt++) {
    const old = join(scratch, `old-${process.pid}-${attempt}`);
    try {
      renameSync(DIST, old);
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
    }
    try {
      renameSync(out, DIST);
      return;
    } catch (err) {
      if (!['ENOTEMPTY', 'EEXIST'].includes(err.code) || attempt >= 10) throw err;
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
  }
}

/** A scratch directory on dist/'s filesystem (renames do not cross filesystems). */
function scratchDir() {
  const cache = join(ROOT, 'node_modules', '.cache', 'remediator-build');
  mkdirSync(cache, { recursive: true });
  if (statSync(cache).dev === statSync(ROOT).dev) return cache;
  const near = join(ROOT, '.build-scratch');
  mkdirSync(near, { recursive: true });
  return near;
}

async function main(argv) {
  const quiet = argv.includes('--quiet');
  const prepare = argv.includes('--prepare');
  const allowTypeErrors = argv.includes('--allow-type-errors');
  if (argv.includes('--if-stale') || prepare) {
    const hash = inputsHash();
    if (isFresh(hash, { allowTypeErrors })) {
      if (!quiet) process.stderr.write('build: dist/ is up to date\n');
      return;
    }
    if (prepare && !tscPath()) {
      // `npm ci --omit=dev`: no compiler. A dist/ built elsewhere (or none) is left as it is.
      process.stderr.write(
        existsSync(join(DIST, 'src', 'main.js'))
          ? 'build: TypeScript is not installed; keeping the existing dist/\n'
          : 'build: TypeScript is not installed and there is no dist/: run `npm ci` (with dev dependencies) or `npm run build` where TypeScript is installed\n',
      );
      return;
    }
  }
  build({ allowTypeErrors });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`build failed: ${err.message}\n`);
    process.exit(1);
  });
}
