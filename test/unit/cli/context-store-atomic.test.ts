import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readContexts, saveContext } from '../../../src/cli/client/context-store.js';
import { tempConfigHome, type ConfigHome } from '../../helpers/config-home.js';

// The store's renameSync, observed: what the temporary file is at the moment it is renamed, and a failing rename.
const rename = vi.hoisted(() => ({ fail: false, seen: [] as { from: string; to: string; mode: number; text: string; targetText: string | undefined }[] }));
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const renameSync = (from: fs.PathLike, to: fs.PathLike): void => {
    const targetText = real.existsSync(to) ? real.readFileSync(to, 'utf8') : undefined;
    rename.seen.push({ from: String(from), to: String(to), mode: real.statSync(from).mode & 0o777, text: real.readFileSync(from, 'utf8'), targetText });
    if (rename.fail) throw Object.assign(new Error('simulated'), { code: 'EIO' });
    real.renameSync(from, to);
  };
  return { ...real, renameSync, default: { ...real, renameSync } };
});

const TOKEN = 'atomic-secret-token-0123456789';

describe('the contexts file is written through a 0600 temporary file and a rename', () => {
  let home: ConfigHome;
  let umask: number;
  beforeEach(() => {
    home = tempConfigHome();
    rename.fail = false;
    rename.seen = [];
    umask = process.umask(0);
  });
  afterEach(() => {
    process.umask(umask);
    home.remove();
  });

  it('the whole new content is in a 0600 temporary file in the same directory before it replaces the old file', () => {
    saveContext({ name: 'a', url: 'http://a:1', token: TOKEN }, { env: home.env });
    saveContext({ name: 'b', url: 'http://b:1', token: TOKEN }, { env: home.env });
    expect(rename.seen).toHaveLength(2);
    const second = rename.seen[1]!;
    expect(second.to).toBe(home.file);
    expect(join(second.from, '..')).toBe(join(home.file, '..'));
    expect(second.from).toMatch(/\.tmp$/);
    expect(second.mode).toBe(0o600);
    expect(second.text).toContain('name: b');
    // Until the rename, the file still held the old contexts only.
    expect(second.targetText).toContain('name: a');
    expect(second.targetText).not.toContain('name: b');
  });

  it('a failed rename leaves the old file as it was, removes the temporary file, and is a clear exit-2 error', () => {
    saveContext({ name: 'a', url: 'http://a:1', token: TOKEN }, { env: home.env });
    const before = fs.readFileSync(home.file, 'utf8');
    rename.fail = true;
    let err: unknown;
    try {
      saveContext({ name: 'b', url: 'http://b:1', token: TOKEN }, { env: home.env });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ exitCode: 2, message: `cannot write the CLI config ${home.file}: EIO` });
    expect(fs.readFileSync(home.file, 'utf8')).toBe(before);
    expect(fs.readdirSync(join(home.dir, 'remediator'))).toEqual(['config.yaml']);
    rename.fail = false;
    expect(readContexts({ env: home.env }).contexts.map((c) => c.name)).toEqual(['a']);
  });
});
