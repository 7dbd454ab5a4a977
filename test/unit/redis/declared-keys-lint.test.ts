/**
 * Lint: every Lua script goes through the declared-keys preamble (src/redis/declared-keys-lua.ts),
 * whose `call` refuses at run time any key the script was not given in KEYS, and uses only
 * commands whose key positions the preamble knows. Together with the integration suite, which runs
 * every script path, a script touching an undeclared key fails a test.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KEY_POSITIONS } from '../../../src/redis/declared-keys-lua.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const PREAMBLE_FILE = 'src/redis/declared-keys-lua.ts';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

interface Source {
  file: string;
  text: string;
}

/** Problems in a set of sources: direct redis.call, scripts not built by declaredKeysScript, unknown commands. */
export function lintScripts(sources: Source[]): string[] {
  const problems: string[] = [];
  const declaredScripts = new Set<string>();
  for (const { text } of sources) {
    for (const m of text.matchAll(/const (\w+) = declaredKeysScript\(`([\s\S]*?)`\);/g)) {
      declaredScripts.add(m[1]!);
      for (const c of m[2]!.matchAll(/\bcall\('([A-Z]+)'/g)) {
        if (!(c[1]! in KEY_POSITIONS)) problems.push(`${m[1]}: command ${c[1]} has no entry in KEY_POSITIONS`);
      }
      // Fragments spliced in (e.g. PAUSE_GUARD_LUA) are linted as their own constants below.
    }
    for (const m of text.matchAll(/const (\w+_LUA) = `([\s\S]*?)`;/g)) {
      for (const c of m[2]!.matchAll(/\bcall\('([A-Z]+)'/g)) {
        if (!(c[1]! in KEY_POSITIONS)) problems.push(`${m[1]}: command ${c[1]} has no entry in KEY_POSITIONS`);
      }
    }
  }
  for (const { file, text } of sources) {
    if (file === PREAMBLE_FILE) continue;
    text.split('\n').forEach((line, i) => {
      if (/redis\.p?call\s*\(/.test(line)) problems.push(`${file}:${i + 1}: calls redis.call directly; use call() behind declaredKeysScript`);
    });
    for (const m of text.matchAll(/defineCommand\(\s*'(\w+)',\s*\{([^}]*)\}/g)) {
      const lua = /lua:\s*(\w+)/.exec(m[2]!)?.[1];
      if (!lua || !declaredScripts.has(lua)) problems.push(`${file}: script ${m[1]} runs ${lua ?? 'an inline string'}, not a declaredKeysScript constant`);
      if (/numberOfKeys:\s*0\b/.test(m[2]!)) problems.push(`${file}: script ${m[1]} declares no keys (numberOfKeys: 0)`);
    }
    for (const m of text.matchAll(/\.eval(?:sha)?\(\s*(\w+)/g)) {
      if (!declaredScripts.has(m[1]!)) problems.push(`${file}: eval of ${m[1]}, not a declaredKeysScript constant`);
    }
  }
  return problems;
}

describe('declared keys lint', () => {
  const sources = [...sourceFiles(join(ROOT, 'src')), ...sourceFiles(join(ROOT, 'playbooks'))].map((path) => ({ file: relative(ROOT, path), text: readFileSync(path, 'utf8') }));

  it('every script in src/ runs behind the preamble, calls only call(), and uses known commands', () => {
    expect(lintScripts(sources)).toEqual([]);
    // It did look at the scripts: the intake, manual-run, escalation, guard, run-store and audit ones.
    const defined = sources.flatMap((s) => [...s.text.matchAll(/defineCommand\(\s*'(\w+)'/g)].map((m) => m[1]));
    expect(defined.length).toBeGreaterThanOrEqual(15);
    expect(defined).toEqual(expect.arrayContaining(['remediatorIntake', 'remediatorEpisodes', 'remediatorManualRun', 'remediatorEscalate', 'remediatorTransition']));
  });

  it('flags a direct redis.call, a script outside the preamble, keyless scripts and unknown commands', () => {
    const bad: Source[] = [
      {
        file: 'src/engine/bad.ts',
        text: [
          "const RAW = `return redis.call('GET', 'x')`;",
          "const OK = declaredKeysScript(`return call('RENAME', KEYS[1], KEYS[2])`);",
          "redis.defineCommand('bad', { numberOfKeys: 0, lua: RAW });",
          "redis.defineCommand('unknownCmd', { lua: OK });",
          'await redis.eval(RAW, 0);',
        ].join('\n'),
      },
    ];
    expect(lintScripts(bad)).toEqual([
      'OK: command RENAME has no entry in KEY_POSITIONS',
      'src/engine/bad.ts:1: calls redis.call directly; use call() behind declaredKeysScript',
      'src/engine/bad.ts: script bad runs RAW, not a declaredKeysScript constant',
      'src/engine/bad.ts: script bad declares no keys (numberOfKeys: 0)',
      'src/engine/bad.ts: eval of RAW, not a declaredKeysScript constant',
    ]);
  });
});
