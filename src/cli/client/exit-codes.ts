import type { RunStatus } from '../../domain/run.js';

/** Exit codes of the client verbs (docs/cli.md). Public: scripts branch on them. */
export const EXIT = {
  /** Done; with --wait, the run succeeded. */
  ok: 0,
  /** The run ended failed, blocked, rejected, expired or cancelled, or the server refused the request (409). */
  refused: 1,
  /** Usage or validation error (commander usage errors, 400 and the other 4xx). */
  usage: 2,
  /** Authentication or authorisation (401/403). */
  auth: 3,
  /** Server unreachable, timed out, or answered 5xx (or not with JSON). */
  unavailable: 4,
  /** With --wait: the run ended skipped, or had not finished (e.g. awaiting_approval) when the wait timed out. */
  pending: 5,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error a verb reports and exits with: the first line, then indented detail lines. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly lines: readonly string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The exit code for an HTTP error status. 404 and other 4xx are the caller's mistake (2); 409 is a refusal (1). */
export function exitCodeForStatus(status: number): ExitCode {
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 409) return EXIT.refused;
  if (status >= 500) return EXIT.unavailable;
  if (status >= 400) return EXIT.usage;
  return EXIT.unavailable;
}

/** The exit code for where a waited-for run ended (or stood when the wait timed out). */
export function exitCodeForRun(status: RunStatus): ExitCode {
  switch (status) {
    case 'succeeded':
      return EXIT.ok;
    case 'failed':
    case 'blocked':
    case 'rejected':
    case 'expired':
    case 'cancelled':
      return EXIT.refused;
    case 'skipped':
    case 'awaiting_approval':
    case 'queued':
    case 'running':
      return EXIT.pending;
  }
}
