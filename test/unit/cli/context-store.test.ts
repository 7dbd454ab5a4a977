import { chmodSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkToken,
  contextNameForUrl,
  contextsFilePath,
  ContextStoreError,
  deleteContext,
  readContexts,
  saveContext,
  setCurrentContext,
} from '../../../src/cli/client/context-store.js';
import { tempConfigHome, type ConfigHome } from '../../helpers/config-home.js';

const TOKEN = 'ctx-secret-token-0123456789';
const OTHER = 'other-secret-token-9876543210';

const mode = (path: string): number => statSync(path).mode & 0o777;

describe('where the contexts file is', () => {
  it('$XDG_CONFIG_HOME/remediator/config.yaml, else ~/.config/remediator/config.yaml; a relative XDG_CONFIG_HOME is ignored', () => {
    expect(contextsFilePath({ XDG_CONFIG_HOME: '/x/cfg', HOME: '/home/u' })).toBe('/x/cfg/remediator/config.yaml');
    expect(contextsFilePath({ HOME: '/home/u' })).toBe('/home/u/.config/remediator/config.yaml');
    expect(contextsFilePath({ XDG_CONFIG_HOME: 'rel/cfg', HOME: '/home/u' })).toBe('/home/u/.config/remediator/config.yaml');
    expect(contextsFilePath({ XDG_CONFIG_HOME: '', HOME: '/home/u' })).toBe('/home/u/.config/remediator/config.yaml');
  });

  it('an environment without either has no file (never the real home): nothing to read, a save is a usage error', () => {
    expect(contextsFilePath({})).toBeUndefined();
    expect(readContexts({ env: {} })).toEqual({ path: undefined, contexts: [] });
    expect(() => saveContext({ name: 'a', url: 'http://h:1', token: TOKEN }, { env: {} })).toThrow(/set HOME or XDG_CONFIG_HOME/);
  });

  it('HOME is used when XDG_CONFIG_HOME is not set', () => {
    const home = tempConfigHome();
    try {
      const env = { HOME: home.dir };
      saveContext({ name: 'a', url: 'http://h:1', token: TOKEN }, { env });
      expect(mode(join(home.dir, '.config', 'remediator', 'config.yaml'))).toBe(0o600);
      expect(readContexts({ env }).current).toBe('a');
    } finally {
      home.remove();
    }
  });
});

describe('context names', () => {
  it('come from the URL host and port, else "default"', () => {
    expect(contextNameForUrl('http://127.0.0.1:8080')).toBe('127.0.0.1-8080');
    expect(contextNameForUrl('https://remediator.example.com/')).toBe('remediator.example.com');
    expect(contextNameForUrl('http://[::1]:9090/api')).toBe('1-9090');
    expect(contextNameForUrl('not a url')).toBe('default');
  });

  it('a token must be one line without spaces; the error never shows it', () => {
    expect(checkToken(TOKEN)).toBe(TOKEN);
    for (const bad of ['', `${TOKEN} extra`, `${TOKEN}\nsecond`, `tab\t${TOKEN}`]) {
      let err: unknown;
      try {
        checkToken(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ContextStoreError);
      expect((err as ContextStoreError).exitCode).toBe(2);
      expect((err as Error).message).not.toContain(TOKEN);
    }
  });
});

describe('the contexts file', () => {
  let home: ConfigHome;
  let umask: number;
  let warnings: string[];
  const opts = () => ({ env: home.env, warn: (line: string) => void warnings.push(line) });
  beforeEach(() => {
    home = tempConfigHome();
    warnings = [];
    umask = process.umask(0); // a permissive umask: 0600 must not come from it
  });
  afterEach(() => {
    process.umask(umask);
    home.remove();
  });

  it('a first save creates the directory 0700 and the file 0600 as {current, contexts}, and makes it current', () => {
    const saved = saveContext({ name: 'prod', url: 'https://rem.example.com:8443/', token: TOKEN }, { ...opts(), makeCurrent: true });
    expect(saved).toEqual({ replaced: false, path: home.file });
    expect(mode(join(home.dir, 'remediator'))).toBe(0o700);
    expect(mode(home.file)).toBe(0o600);
    expect(parse(readFileSync(home.file, 'utf8'))).toEqual({ current: 'prod', contexts: [{ name: 'prod', url: 'https://rem.example.com:8443', token: TOKEN }] });
    expect(readContexts(opts())).toEqual({ path: home.file, current: 'prod', contexts: [{ name: 'prod', url: 'https://rem.example.com:8443', token: TOKEN }] });
    expect(warnings).toEqual([]);
  });

  it('saving returns the previous current context; makeCurrent: false keeps it; the same name replaces', () => {
    saveContext({ name: 'prod', url: 'http://prod:8080', token: TOKEN }, opts());
    expect(saveContext({ name: 'demo', url: 'http://127.0.0.1:9', token: OTHER }, { ...opts(), makeCurrent: true })).toMatchObject({ previousCurrent: 'prod', replaced: false });
    expect(saveContext({ name: 'staging', url: 'http://staging:8080', token: OTHER }, { ...opts(), makeCurrent: false })).toMatchObject({ previousCurrent: 'demo' });
    expect(readContexts(opts()).current).toBe('demo');
    expect(saveContext({ name: 'demo', url: 'http://127.0.0.1:10', token: TOKEN }, opts())).toMatchObject({ previousCurrent: 'demo', replaced: true });
    const config = readContexts(opts());
    expect(config.contexts.map((c) => [c.name, c.url])).toEqual([
      ['prod', 'http://prod:8080'],
      ['demo', 'http://127.0.0.1:10'],
      ['staging', 'http://staging:8080'],
    ]);
  });

  it('writes atomically: a new file renamed into place (the old one is never written in place), no temporary file left, still 0600', () => {
    saveContext({ name: 'a', url: 'http://a:1', token: TOKEN }, opts());
    // A second name for the old file: an in-place write would change it, a rename leaves it whole.
    const old = join(home.dir, 'old.yaml');
    linkSync(home.file, old);
    const before = readFileSync(old, 'utf8');
    saveContext({ name: 'b', url: 'http://b:1', token: OTHER }, opts());
    expect(readFileSync(old, 'utf8')).toBe(before);
    expect(statSync(home.file).ino).not.toBe(statSync(old).ino);
    expect(readContexts(opts()).contexts.map((c) => c.name)).toEqual(['a', 'b']);
    expect(readdirSync(join(home.dir, 'remediator'))).toEqual(['config.yaml']);
    expect(mode(home.file)).toBe(0o600);
  });

  it('a looser mode found on reading is set back to 0600, with a warning on stderr that does not show the token', () => {
    saveContext({ name: 'a', url: 'http://a:1', token: TOKEN }, opts());
    chmodSync(home.file, 0o644);
    expect(readContexts(opts()).current).toBe('a');
    expect(mode(home.file)).toBe(0o600);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(home.file);
    expect(warnings[0]).toMatch(/mode 0644.*0600/);
    expect(warnings.join('')).not.toContain(TOKEN);
    readContexts(opts());
    expect(warnings).toHaveLength(1);
  });

  it('setCurrentContext switches, clears with undefined, and refuses an unknown name (exit 2) without writing', () => {
    saveContext({ name: 'a', url: 'http://a:1', token: TOKEN }, opts());
    saveContext({ name: 'b', url: 'http://b:1', token: OTHER }, opts());
    expect(setCurrentContext('a', opts())).toEqual({ previousCurrent: 'b' });
    expect(readContexts(opts()).current).toBe('a');
    const before = readFileSync(home.file, 'utf8');
    expect(() => setCurrentContext('nope', opts())).toThrow(ContextStoreError);
    try {
      setCurrentContext('nope', opts());
    } catch (err) {
      expect((err as ContextStoreError).exitCode).toBe(2);
      expect((err as ContextStoreError).lines).toEqual(['contexts: a, b']);
    }
    expect(readFileSync(home.file, 'utf8')).toBe(before);
    expect(setCurrentContext(undefined, opts())).toEqual({ previousCurrent: 'a' });
    expect(readContexts(opts()).current).toBeUndefined();
    expect(parse(readFileSync(home.file, 'utf8'))).not.toHaveProperty('current');
  });

  it('deleteContext removes one; the current one leaves none current; an unknown name deletes nothing', () => {
    saveContext({ name: 'a', url: 'http://a:1', token: TOKEN }, opts());
    saveContext({ name: 'b', url: 'http://b:1', token: OTHER }, opts());
    expect(deleteContext('a', opts())).toEqual({ deleted: true, wasCurrent: false });
    expect(readContexts(opts())).toMatchObject({ current: 'b', contexts: [{ name: 'b' }] });
    expect(deleteContext('b', opts())).toEqual({ deleted: true, wasCurrent: true });
    expect(readContexts(opts())).toEqual({ path: home.file, contexts: [] });
    expect(deleteContext('b', opts())).toEqual({ deleted: false, wasCurrent: false });
  });

  it('refuses a bad name, URL or token before writing anything', () => {
    for (const ctx of [
      { name: '-rf', url: 'http://a:1', token: TOKEN },
      { name: 'a b', url: 'http://a:1', token: TOKEN },
      { name: 'a', url: 'ftp://a', token: TOKEN },
      { name: 'a', url: 'http://a:1', token: '' },
    ]) {
      expect(() => saveContext(ctx, opts())).toThrow(expect.objectContaining({ exitCode: 2 }));
    }
    expect(() => statSync(home.file)).toThrow(/ENOENT/);
  });

  it.each([
    ['not YAML', `contexts: [\ncurrent: x: ${TOKEN}\n`, /not valid YAML \(\w+ at line \d+, column \d+\)/],
    ['a list at the top', `- name: a\n  token: ${TOKEN}\n`, /expected a mapping/],
    ['contexts not a list', `contexts: { name: a, token: ${TOKEN} }\n`, /"contexts" must be a list/],
    ['a context without a URL', `contexts:\n  - { name: a, token: ${TOKEN} }\n`, /contexts\[0\]\.url must be a non-empty string/],
    ['a name twice', `contexts:\n  - { name: a, url: "http://a:1", token: ${TOKEN} }\n  - { name: a, url: "http://b:1", token: ${TOKEN} }\n`, /the name "a" is used twice/],
    ['current not a name', `current: [a]\ncontexts: []\n`, /"current" must be a context name/],
  ])('a corrupt file (%s) is a clear error naming it, exit 2, never quoting the file', (_what, text, message) => {
    mkdirSync(join(home.dir, 'remediator'), { recursive: true });
    writeFileSync(home.file, text, { mode: 0o600 });
    let err: unknown;
    try {
      readContexts(opts());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ContextStoreError);
    const e = err as ContextStoreError;
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(home.file);
    expect(e.message).toMatch(message);
    expect(`${e.message}\n${e.lines.join('\n')}`).not.toContain(TOKEN);
    expect(e.lines.join('\n')).toContain('remediator login --url URL --token-file FILE');
    // The CLI never overwrites a file it could not read.
    expect(() => saveContext({ name: 'b', url: 'http://b:1', token: OTHER }, opts())).toThrow(ContextStoreError);
    expect(readFileSync(home.file, 'utf8')).toBe(text);
  });

  it('an empty file is no contexts', () => {
    mkdirSync(join(home.dir, 'remediator'), { recursive: true });
    writeFileSync(home.file, '', { mode: 0o600 });
    expect(readContexts(opts())).toEqual({ path: home.file, contexts: [] });
  });
});
