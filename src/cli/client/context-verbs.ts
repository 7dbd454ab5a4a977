import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { ApiClient, ApiError, displayUrl } from './api-client.js';
import { LOGIN_HINT, type OutputFormat } from './client-options.js';
import { checkContextName, checkToken, contextNameForUrl, deleteContext, normalizeContextUrl, readContexts, saveContext, setCurrentContext, type StoreOptions } from './context-store.js';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';
import type { Output } from './output.js';
import { reportError } from './report-error.js';
import { renderTable } from './text-table.js';

export interface ContextVerbDeps {
  out: Output;
  env: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
  requestTimeoutMs?: number;
  version?: string;
}

export interface LoginOptions {
  url: string;
  /** Read from the token file (readTokenFile); never printed. */
  token: string;
  /** The context's name (the global --context); default derived from the URL's host. */
  context?: string;
}

/** The caller as `GET /api/v1/status` may tell it: `principal: {name, role}`. (Its top-level `role` is the process's, not the caller's.) */
function describeCaller(status: unknown): string | undefined {
  const p = (status as { principal?: unknown } | null)?.principal;
  if (typeof p !== 'object' || p === null) return undefined;
  const { name, role } = p as { name?: unknown; role?: unknown };
  const n = typeof name === 'string' && name !== '' ? name : undefined;
  const r = typeof role === 'string' && role !== '' ? role : undefined;
  if (n && r) return `${n} (${r})`;
  return n ?? r;
}

/** Reads the token file: trimmed, one line, not empty. Errors name the file, never its content. */
export function readTokenFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read the token file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, EXIT.usage);
  }
  const token = text.trim();
  if (token === '') throw new CliError(`the token file ${file} is empty`, EXIT.usage);
  return checkToken(token, `the token in ${file}`);
}

/**
 * `remediator login --url URL --token-file F [--context NAME]`: checks the token with
 * `GET /api/v1/status` and only then saves the context and makes it current. A refused token
 * (401/403, exit 3) or an unreachable server (exit 4) saves nothing.
 */
export async function loginVerb(deps: ContextVerbDeps, opts: LoginOptions): Promise<ExitCode> {
  const store: StoreOptions = { env: deps.env, warn: (line) => deps.out.err(line) };
  const url = normalizeContextUrl(opts.url);
  const name = opts.context !== undefined ? checkContextName(opts.context.trim()) : contextNameForUrl(url);
  const token = checkToken(opts.token);
  readContexts(store); // a corrupt config fails here, before the server is asked
  const client = new ApiClient({
    url,
    token,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(deps.requestTimeoutMs !== undefined ? { timeoutMs: deps.requestTimeoutMs } : {}),
    ...(deps.version ? { userAgent: `remediator-cli/${deps.version}` } : {}),
  });
  const status = await client.get<unknown>('api/v1/status');
  const saved = saveContext({ name, url, token }, { ...store, makeCurrent: true });
  const caller = describeCaller(status);
  deps.out.out(`logged in to ${displayUrl(url)} ${caller ? `as ${caller}` : '(token accepted)'}; context ${name} is current\n`);
  if (saved.replaced) deps.out.err(`(context ${name} was saved before; its URL and token are replaced)\n`);
  const overriding = ['REMEDIATOR_URL', 'REMEDIATOR_TOKEN'].filter((v) => (deps.env[v] ?? '').trim() !== '');
  if (overriding.length > 0) deps.out.err(`note: ${overriding.join(' and ')} ${overriding.length > 1 ? 'are' : 'is'} set and ${overriding.length > 1 ? 'take' : 'takes'} precedence over the current context; unset ${overriding.length > 1 ? 'them' : 'it'} to use it\n`);
  return EXIT.ok;
}

/** Why a login failed, and that nothing was saved. */
function loginHints(err: unknown, tokenFile: string): string[] {
  if (err instanceof ApiError && err.status === 401) return [`the token in ${tokenFile} was refused; nothing was saved`];
  if (err instanceof ApiError && err.status === 403) return [`the token in ${tokenFile} may not read the server's status (it needs the viewer role or above); nothing was saved`];
  if (err instanceof ApiError || (err instanceof CliError && err.exitCode === EXIT.unavailable)) return ['nothing was saved'];
  return [];
}

/** `remediator contexts [list] [-o json]`: the saved contexts, never their tokens. */
export function listContextsVerb(deps: ContextVerbDeps, output: OutputFormat): ExitCode {
  const config = readContexts({ env: deps.env, warn: (line) => deps.out.err(line) });
  const items = config.contexts.map((c) => ({ name: c.name, url: displayUrl(c.url), current: c.name === config.current }));
  if (output === 'json') {
    deps.out.out(`${JSON.stringify({ current: config.current ?? null, contexts: items }, null, 2)}\n`);
    return EXIT.ok;
  }
  if (items.length === 0) {
    deps.out.err(`no contexts yet${config.path ? ` (${config.path})` : ''}: ${LOGIN_HINT} [--context NAME]\n`);
    return EXIT.ok;
  }
  deps.out.out(renderTable(['CURRENT', 'NAME', 'URL'], items.map((c) => [c.current ? '*' : '', c.name, c.url])));
  if (config.current !== undefined && !items.some((c) => c.current)) deps.out.err(`the current context "${config.current}" does not exist; pick one: remediator contexts use NAME\n`);
  return EXIT.ok;
}

/** `remediator contexts use NAME`: an unknown name is exit 2. */
export function useContextVerb(deps: ContextVerbDeps, name: string): ExitCode {
  const { previousCurrent } = setCurrentContext(name, { env: deps.env, warn: (line) => deps.out.err(line) });
  deps.out.out(previousCurrent === name ? `context ${name} is already current\n` : `switched to context ${name}\n`);
  return EXIT.ok;
}

/** `remediator contexts delete NAME`: an unknown name is exit 2; deleting the current one leaves none current. */
export function deleteContextVerb(deps: ContextVerbDeps, name: string): ExitCode {
  const { deleted, wasCurrent } = deleteContext(name, { env: deps.env, warn: (line) => deps.out.err(line) });
  if (!deleted) {
    const names = readContexts({ env: deps.env, warn: () => undefined }).contexts.map((c) => c.name);
    throw new CliError(`no context "${name}"`, EXIT.usage, [names.length > 0 ? `contexts: ${names.join(', ')}` : 'there are none']);
  }
  deps.out.out(`deleted context ${name}${wasCurrent ? '; no context is current now (remediator contexts use NAME)' : ''}\n`);
  return EXIT.ok;
}

/**
 * Registers `login` and `contexts [list|use|delete]` (docs/cli.md). `--context NAME` is the
 * program's global option (addContextOption), so login reads it with optsWithGlobals.
 */
export function registerContextVerbs(program: Command, deps: ContextVerbDeps & { exit: (code: ExitCode) => void }): void {
  const { out, exit } = deps;
  /** Runs a verb; its error is reported (any token redacted) and becomes the exit code. */
  const act = (verb: () => ExitCode | Promise<ExitCode>, opts: { token?: () => string | undefined; output?: OutputFormat; hints?: (err: unknown) => string[] } = {}): Promise<void> =>
    Promise.resolve()
      .then(verb)
      .then(exit, (err: unknown) => {
        const token = opts.token?.();
        exit(
          reportError(err, out, {
            ...(token !== undefined ? { token } : {}),
            ...(opts.output ? { output: opts.output } : {}),
            hints: opts.hints ?? (() => []),
          }),
        );
      });

  program
    .command('login')
    .description('check a token against a server and save them as a context, made current (kubectl-style; the file is mode 0600)')
    .requiredOption('--url <url>', 'the API base URL, e.g. http://127.0.0.1:8080')
    .requiredOption('--token-file <file>', 'a file holding the token (read and trimmed; the token never goes on the command line)')
    .addHelpText(
      'after',
      `
--context NAME (a global option) names the context; default: from the URL's host, e.g. 127.0.0.1-8080.
The file: $XDG_CONFIG_HOME/remediator/config.yaml (default ~/.config/remediator/config.yaml), mode 0600.
Exit codes: 0 saved; 2 bad URL, unreadable or empty token file, or a corrupt config file; 3 the token
was refused (401/403); 4 the server is unreachable or failed. Only 0 saves anything.`,
    )
    .action((_opts: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<{ url: string; tokenFile: string; context?: string }>();
      let token: string | undefined;
      return act(
        () => {
          token = readTokenFile(o.tokenFile);
          return loginVerb(deps, { url: o.url, token, ...(o.context !== undefined ? { context: o.context } : {}) });
        },
        { token: () => token, hints: (err) => loginHints(err, o.tokenFile) },
      );
    });

  const contexts = program
    .command('contexts')
    .description('list the saved contexts (remediator login adds them), switch the current one, delete one')
    .addHelpText(
      'after',
      `
Client verbs use --url/--token, else REMEDIATOR_URL/REMEDIATOR_TOKEN, else the current context;
--context NAME (global) uses another one. Tokens are never shown.`,
    );
  contexts
    .command('list', { isDefault: true })
    .description('the contexts: CURRENT (*), NAME, URL; never tokens')
    .addOption(new Option('-o, --output <format>', 'table for people, json for scripts (still without tokens)').choices(['table', 'json']).default('table'))
    .action((_opts: unknown, cmd: Command) => {
      const output = cmd.opts<{ output: OutputFormat }>().output;
      return act(() => listContextsVerb(deps, output), { output });
    });
  contexts
    .command('use')
    .description('make a saved context the current one')
    .argument('<name>', 'context name (remediator contexts lists them)')
    .action((name: string) => act(() => useContextVerb(deps, name)));
  contexts
    .command('delete')
    .description('delete a saved context (its token with it); deleting the current one leaves none current')
    .argument('<name>', 'context name')
    .action((name: string) => act(() => deleteContextVerb(deps, name)));
}
