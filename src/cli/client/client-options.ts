import { Option, type Command } from 'commander';
import { ApiError } from './api-client.js';
import { findContext, normalizeContextUrl, ContextStoreError, type CliContext, type ContextsConfig } from './context-store.js';
import { CliError, EXIT } from './exit-codes.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

export type OutputFormat = 'table' | 'json';

/** The options every client verb takes (docs/cli.md); `context` is the global `--context NAME`. */
export interface ClientFlags {
  url?: string;
  token?: string;
  context?: string;
  output: OutputFormat;
}

/** Where the URL came from: --url, REMEDIATOR_URL, a saved context, or the built-in default. */
export type UrlSource = 'flag' | 'env' | 'context' | 'default';

export interface ResolvedClientOptions {
  url: string;
  /** Never printed. */
  token?: string;
  output: OutputFormat;
  urlFrom: UrlSource;
  /** The saved context whose URL or token is used, if any. */
  context?: { name: string; url: string; tokenUsed: boolean };
}

/** How to set things up, for messages. */
export const LOGIN_HINT = 'remediator login --url URL --token-file FILE';

const RESOLUTION_HELP = `
Server and token: --url/--token, else REMEDIATOR_URL/REMEDIATOR_TOKEN, else the current context
(remediator login, remediator contexts); --context NAME uses another saved context instead (it
wins over the variables). A context's token is only ever sent to that context's URL.`;

/** Adds --url, --token and -o to a client verb (and says how the server is chosen in its help). */
export function addClientOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--url <url>', `API base URL (else REMEDIATOR_URL, else the current context, else ${DEFAULT_URL})`))
    .addOption(new Option('--token <token>', 'bearer token (else REMEDIATOR_TOKEN, else the current context); prefer the variable: arguments show in ps'))
    .addOption(new Option('-o, --output <format>', 'table for people, json for scripts (the raw API JSON)').choices(['table', 'json']).default('table'))
    .addHelpText('after', RESOLUTION_HELP);
}

/** Adds the global `--context NAME` to the program, once: `remediator --context prod runs` and `remediator runs --context prod` both work. */
export function addContextOption(program: Command): void {
  if (program.options.some((o) => o.long === '--context')) return;
  program.addOption(new Option('--context <name>', 'client verbs: use this saved context (remediator contexts) instead of the current one; login: the name to save it under'));
}

/**
 * Where a client verb goes and with which token:
 *   1. --url / --token;
 *   2. --context NAME, when given (an unknown name is exit 2);
 *   3. REMEDIATOR_URL / REMEDIATOR_TOKEN;
 *   4. the current context;
 *   5. the URL DEFAULT_URL, no token.
 * A context's token is only used when the URL is the context's own, so it never goes to another
 * server. `contexts` loads the saved contexts; it is called only when flags and variables leave
 * the URL or the token open (or --context is given). Empty values count as unset.
 */
export function resolveClientOptions(flags: ClientFlags, env: NodeJS.ProcessEnv, contexts?: () => ContextsConfig): ResolvedClientOptions {
  const named = nonEmpty(flags.context);
  const envUrl = named === undefined ? nonEmpty(env.REMEDIATOR_URL) : undefined;
  const envToken = named === undefined ? nonEmpty(env.REMEDIATOR_TOKEN) : undefined;
  const flagUrl = nonEmpty(flags.url);
  const givenUrl = flagUrl ?? envUrl;
  const givenToken = nonEmpty(flags.token) ?? envToken;
  let ctx: CliContext | undefined;
  if (named !== undefined) {
    if (!contexts) throw new CliError(`--context ${named}: saved contexts are not available to this command`, EXIT.usage);
    ctx = findContext(contexts(), named);
  } else if ((givenUrl === undefined || givenToken === undefined) && contexts) {
    ctx = currentContext(contexts(), givenUrl === undefined);
  }
  const url = givenUrl ?? ctx?.url ?? DEFAULT_URL;
  const urlFrom: UrlSource = flagUrl !== undefined ? 'flag' : envUrl !== undefined ? 'env' : ctx ? 'context' : 'default';
  const tokenUsed = givenToken === undefined && ctx !== undefined && sameUrl(url, ctx.url);
  const token = givenToken ?? (tokenUsed ? ctx!.token : undefined);
  return {
    url,
    output: flags.output,
    urlFrom,
    ...(token !== undefined ? { token } : {}),
    ...(ctx && (urlFrom === 'context' || tokenUsed) ? { context: { name: ctx.name, url: ctx.url, tokenUsed } } : {}),
  };
}

/** The current context; when `required` (nothing else gives a URL), a current name with no context behind it is an error. */
function currentContext(config: ContextsConfig, required: boolean): CliContext | undefined {
  if (config.current === undefined) return undefined;
  const found = config.contexts.find((c) => c.name === config.current);
  if (!found && required) {
    throw new ContextStoreError(`the current context "${config.current}" is not in ${config.path ?? 'the CLI config'}`, [
      `pick one: remediator contexts use NAME (remediator contexts lists them), or log in: ${LOGIN_HINT}`,
    ]);
  }
  return found;
}

function sameUrl(a: string, b: string): boolean {
  try {
    return normalizeContextUrl(a) === normalizeContextUrl(b);
  } catch {
    return false;
  }
}

/** What to add to an error's report so the user can fix where the verb went or what it sent. */
export function resolutionHints(r: ResolvedClientOptions, err: unknown): string[] {
  if (err instanceof ApiError && err.status === 401) {
    if (r.context?.tokenUsed) return [`the token of context "${r.context.name}" was refused; log in again: remediator login --url ${r.context.url} --token-file FILE --context ${r.context.name}`];
    if (r.token === undefined && r.urlFrom === 'default') return [`nothing is configured: ${LOGIN_HINT} (or set REMEDIATOR_URL and REMEDIATOR_TOKEN)`];
    return [`set REMEDIATOR_TOKEN (or --token) to a valid token, or log in: ${LOGIN_HINT}`];
  }
  const code = err instanceof CliError ? err.exitCode : undefined;
  if (code === EXIT.unavailable) {
    if (r.urlFrom === 'context' && r.context) return [`that is context "${r.context.name}"; remediator contexts lists the others (switch: remediator contexts use NAME, or --context NAME)`];
    if (r.urlFrom === 'default') return [`no server is configured, so ${DEFAULT_URL} was tried: ${LOGIN_HINT} (or set REMEDIATOR_URL and REMEDIATOR_TOKEN)`];
  }
  return [];
}

function nonEmpty(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}
