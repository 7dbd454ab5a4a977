import { CommanderError } from 'commander';
import { ApiError } from './api-client.js';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';
import type { Output } from './output.js';
import type { OutputFormat } from './client-options.js';

/** Replaces every occurrence of the secret (the token) so no message can echo it. */
export function redact(text: string, secret: string | undefined): string {
  if (!secret || secret.length < 4) return text;
  return text.split(secret).join('***');
}

/** The human lines for an API error: the message, each detail with its path, hints by status. */
export function describeApiError(err: ApiError): { message: string; lines: string[] } {
  const b = err.body;
  const lines: string[] = [];
  for (const d of b.details ?? []) lines.push(`${d.path}: ${d.message}`);
  if (err.status === 409 && b.error === 'blocked') {
    if (typeof b.guard === 'string') lines.push(`guard: ${b.guard}`);
    if (typeof b.runId === 'string') lines.push(`run ${b.runId} was recorded as blocked`);
  } else if (err.status === 409 && typeof b.status === 'string' && !b.message.includes(b.status)) {
    lines.push(`the run is ${b.status}`);
  }
  const prefix = err.status === 409 && b.error === 'blocked' ? 'refused' : `${err.status} ${b.error}`;
  return { message: `${prefix}: ${b.message}`, lines };
}

/**
 * Reports an error on stderr (and, with -o json, an API error's raw body on stdout) and returns
 * the exit code. The token is redacted from everything written. `hints` adds lines on how to fix
 * it (client verbs: which context or variable to change); without it a 401 says to set the token.
 */
export function reportError(err: unknown, out: Output, opts: { token?: string; output?: OutputFormat; hints?: (err: unknown) => string[] } = {}): ExitCode {
  const write = (text: string): void => out.err(redact(text, opts.token));
  let message: string;
  let lines: readonly string[] = [];
  let code: ExitCode;
  if (err instanceof ApiError) {
    ({ message, lines } = describeApiError(err));
    code = err.exitCode as ExitCode;
    if (opts.output === 'json') out.out(redact(`${JSON.stringify({ status: err.status, ...err.body }, null, 2)}\n`, opts.token));
  } else if (err instanceof CliError) {
    message = err.message;
    lines = err.lines;
    code = err.exitCode;
  } else if (err instanceof CommanderError) {
    message = err.message;
    code = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    message = `unexpected: ${err instanceof Error ? err.message : String(err)}`;
    code = EXIT.unavailable;
  }
  const hints = opts.hints ? opts.hints(err) : err instanceof ApiError && err.status === 401 ? ['set REMEDIATOR_TOKEN (or --token) to a valid token'] : [];
  write(`error: ${message}\n`);
  for (const line of [...lines, ...hints]) write(`  ${line}\n`);
  return code;
}
