import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, chmodSync, unlinkSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { isMap, parseDocument, stringify } from 'yaml';
import { parseBaseUrl } from './api-client.js';
import { CliError, EXIT } from './exit-codes.js';

/**
 * kubectl-style contexts of the CLI (docs/cli.md): `$XDG_CONFIG_HOME/remediator/config.yaml`
 * (default `~/.config/remediator/config.yaml`), YAML `{current: NAME, contexts: [{name, url, token}]}`.
 * The file holds tokens: it is written atomically with mode 0600 (its directory 0700) and a
 * looser mode found on reading is set back to 0600 with a warning. No message of this module
 * contains a token or a line of the file.
 */

/** One saved server and its token. */
export interface CliContext {
  name: string;
  /** The API base URL, e.g. http://127.0.0.1:8080. */
  url: string;
  /** Bearer token; never printed. */
  token: string;
}

export interface ContextsConfig {
  /** The file read (undefined when neither XDG_CONFIG_HOME nor HOME says where it is). */
  path: string | undefined;
  /** The current context's name, if one is current. */
  current?: string;
  contexts: CliContext[];
}

export interface StoreOptions {
  /** XDG_CONFIG_HOME and HOME come from here (default process.env); tests point them at a temporary directory. */
  env?: NodeJS.ProcessEnv;
  /** Where warnings go (a loose file mode that was tightened); default stderr. */
  warn?: (line: string) => void;
}

/** A config file the CLI cannot use, or a context that does not exist: exit 2. */
export class ContextStoreError extends CliError {
  constructor(message: string, lines: readonly string[] = []) {
    super(message, EXIT.usage, lines);
    this.name = 'ContextStoreError';
  }
}

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const LOGIN_HINT = 'remediator login --url URL --token-file FILE [--context NAME]';

/**
 * The config file's path: `$XDG_CONFIG_HOME/remediator/config.yaml` when XDG_CONFIG_HOME is an
 * absolute path, else `$HOME/.config/remediator/config.yaml`. With neither set: the OS home
 * directory for the real environment, undefined for any other (so tests never reach the real home).
 */
export function contextsFilePath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const xdg = env.XDG_CONFIG_HOME?.trim();
  if (xdg && isAbsolute(xdg)) return join(xdg, 'remediator', 'config.yaml');
  const home = env.HOME?.trim() || (env === process.env ? homedir() : undefined);
  return home ? join(home, '.config', 'remediator', 'config.yaml') : undefined;
}

/** A context name derived from a URL's host and port: `http://127.0.0.1:8080` → `127.0.0.1-8080`; `default` when nothing usable is left. */
export function contextNameForUrl(url: string): string {
  let host: string;
  let port: string;
  try {
    const u = new URL(url);
    host = u.hostname.replace(/^\[|\]$/g, '');
    port = u.port;
  } catch {
    return 'default';
  }
  const name = `${host}${port ? `-${port}` : ''}`
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-._]+|[-._]+$/g, '')
    .slice(0, 63)
    .replace(/[-._]+$/, '');
  return NAME_RE.test(name) ? name : 'default';
}

/** The URL as stored and compared: parsed, without a trailing slash (a path prefix is kept). */
export function normalizeContextUrl(url: string): string {
  return parseBaseUrl(url.trim()).href.replace(/\/$/, '');
}

/** Checks a context name (letters, digits, `.`, `_`, `-`; at most 63; not starting with a symbol). */
export function checkContextName(name: string): string {
  if (!NAME_RE.test(name)) throw new ContextStoreError(`invalid context name "${name}": use letters, digits, ".", "_" and "-" (at most 63, starting with a letter or digit)`);
  return name;
}

/** Checks a token's shape without ever printing it: non-empty, one line, no spaces or control characters. */
export function checkToken(token: string, where = 'the token'): string {
  if (token === '') throw new ContextStoreError(`${where} is empty`);
  // Visible ASCII only: an HTTP header cannot carry the rest, and a space or newline means the file holds something else.
  if (!/^[\x21-\x7e]+$/.test(token)) throw new ContextStoreError(`${where} must be one line of visible characters without spaces (the token only)`);
  return token;
}

/** Reads the contexts (none when the file does not exist). A corrupt file is a ContextStoreError naming it. */
export function readContexts(opts: StoreOptions = {}): ContextsConfig {
  const path = contextsFilePath(opts.env ?? process.env);
  if (path === undefined) return { path, contexts: [] };
  let text: string;
  try {
    tightenMode(path, opts.warn ?? defaultWarn);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { path, contexts: [] };
    throw new ContextStoreError(`cannot read the CLI config ${path}: ${errCode(err)}`);
  }
  return { path, ...parseContexts(text, path) };
}

/**
 * Saves (adds or replaces by name) a context and, unless `makeCurrent` is false, makes it the
 * current one. Returns the context that was current before, so a caller (the demo) can restore it.
 */
export function saveContext(ctx: CliContext, opts: StoreOptions & { makeCurrent?: boolean } = {}): { previousCurrent?: string; replaced: boolean; path: string } {
  const entry: CliContext = { name: checkContextName(ctx.name), url: normalizeContextUrl(ctx.url), token: checkToken(ctx.token) };
  const config = readContexts(opts);
  const path = writablePath(config);
  const previousCurrent = config.current;
  const index = config.contexts.findIndex((c) => c.name === entry.name);
  const contexts = [...config.contexts];
  if (index >= 0) contexts[index] = entry;
  else contexts.push(entry);
  const current = opts.makeCurrent === false ? previousCurrent : entry.name;
  writeContextsFile(path, { ...(current !== undefined ? { current } : {}), contexts });
  return { ...(previousCurrent !== undefined ? { previousCurrent } : {}), replaced: index >= 0, path };
}

/** Makes `name` the current context (an unknown name is a ContextStoreError), or none with undefined. */
export function setCurrentContext(name: string | undefined, opts: StoreOptions = {}): { previousCurrent?: string } {
  const config = readContexts(opts);
  if (name !== undefined && !config.contexts.some((c) => c.name === name)) throw unknownContext(name, config);
  const previousCurrent = config.current;
  if (previousCurrent !== name) writeContextsFile(writablePath(config), { ...(name !== undefined ? { current: name } : {}), contexts: config.contexts });
  return previousCurrent !== undefined ? { previousCurrent } : {};
}

/** Deletes a context; deleting the current one leaves none current. `deleted: false` when there was none by that name (nothing written). */
export function deleteContext(name: string, opts: StoreOptions = {}): { deleted: boolean; wasCurrent: boolean } {
  const config = readContexts(opts);
  if (!config.contexts.some((c) => c.name === name)) return { deleted: false, wasCurrent: false };
  const wasCurrent = config.current === name;
  const current = wasCurrent ? undefined : config.current;
  writeContextsFile(writablePath(config), { ...(current !== undefined ? { current } : {}), contexts: config.contexts.filter((c) => c.name !== name) });
  return { deleted: true, wasCurrent };
}

/** The context by name, or a ContextStoreError listing the ones there are. */
export function findContext(config: ContextsConfig, name: string): CliContext {
  const found = config.contexts.find((c) => c.name === name);
  if (!found) throw unknownContext(name, config);
  return found;
}

function unknownContext(name: string, config: ContextsConfig): ContextStoreError {
  const names = config.contexts.map((c) => c.name);
  return new ContextStoreError(`no context "${name}"${config.path ? ` in ${config.path}` : ''}`, [
    names.length > 0 ? `contexts: ${names.join(', ')}` : `there are none yet: ${LOGIN_HINT}`,
  ]);
}

function writablePath(config: ContextsConfig): string {
  if (config.path === undefined) throw new ContextStoreError('cannot tell where the CLI config goes: set HOME or XDG_CONFIG_HOME');
  return config.path;
}

function parseContexts(text: string, path: string): { current?: string; contexts: CliContext[] } {
  const corrupt = (what: string): ContextStoreError =>
    new ContextStoreError(`the CLI config ${path} is corrupt: ${what}`, [`fix it, or remove it and log in again: ${LOGIN_HINT}`]);
  const doc = parseDocument(text, { uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    // The parser's own message may quote the file (tokens); say only what and where.
    const at = first.linePos?.[0];
    throw corrupt(`not valid YAML (${first.code}${at ? ` at line ${at.line}, column ${at.col}` : ''})`);
  }
  if (doc.contents === null) return { contexts: [] };
  if (!isMap(doc.contents)) throw corrupt('expected a mapping with "current" and "contexts"');
  const raw = doc.toJS() as Record<string, unknown>;
  const current = raw.current;
  if (current !== undefined && current !== null && typeof current !== 'string') throw corrupt('"current" must be a context name');
  const list = raw.contexts ?? [];
  if (!Array.isArray(list)) throw corrupt('"contexts" must be a list');
  const contexts: CliContext[] = [];
  list.forEach((item: unknown, i: number) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw corrupt(`contexts[${i}] must be a mapping with name, url and token`);
    const c = item as Record<string, unknown>;
    for (const key of ['name', 'url', 'token'] as const) {
      if (typeof c[key] !== 'string' || c[key] === '') throw corrupt(`contexts[${i}].${key} must be a non-empty string`);
    }
    const name = c.name as string;
    if (contexts.some((x) => x.name === name)) throw corrupt(`contexts[${i}]: the name "${name}" is used twice`);
    contexts.push({ name, url: c.url as string, token: c.token as string });
  });
  return { ...(typeof current === 'string' && current !== '' ? { current } : {}), contexts };
}

/** Writes the file atomically: a 0600 temporary file in the same directory, fsynced, renamed over the old one. */
function writeContextsFile(path: string, content: { current?: string; contexts: CliContext[] }): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  const text = `# Remediator CLI contexts (remediator login, remediator contexts). It holds tokens: keep it mode 0600.\n${stringify(
    { ...(content.current !== undefined ? { current: content.current } : {}), contexts: content.contexts.map((c) => ({ name: c.name, url: c.url, token: c.token })) },
    { lineWidth: 0 },
  )}`;
  const tmp = join(dir, `.config.yaml.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = openSync(tmp, 'wx', FILE_MODE);
    try {
      if (process.platform !== 'win32') fchmodSync(fd, FILE_MODE); // whatever the umask
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // never created, or already renamed
    }
    throw new ContextStoreError(`cannot write the CLI config ${path}: ${errCode(err)}`);
  }
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Not every platform syncs a directory; the rename is done either way.
  }
}

/** Sets the file back to 0600 when group or others may read or write it, with a warning. */
function tightenMode(path: string, warn: (line: string) => void): void {
  if (process.platform === 'win32') return;
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) === 0) return;
  try {
    chmodSync(path, FILE_MODE);
    warn(`warning: ${path} was mode ${octal(mode)}, readable by others (it holds tokens); set it to 0600\n`);
  } catch (err) {
    warn(`warning: ${path} is mode ${octal(mode)}, readable by others (it holds tokens), and could not be set to 0600: ${errCode(err)}\n`);
  }
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

function errCode(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ?? (e instanceof Error ? e.message : String(err));
}

function defaultWarn(line: string): void {
  process.stderr.write(line);
}
