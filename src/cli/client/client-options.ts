import { Option, type Command } from 'commander';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

export type OutputFormat = 'table' | 'json';

/** The options every client verb takes (DESIGN §5). */
export interface ClientFlags {
  url?: string;
  token?: string;
  output: OutputFormat;
}

export interface ResolvedClientOptions {
  url: string;
  /** Never printed. */
  token?: string;
  output: OutputFormat;
}

/** Adds --url, --token and -o to a client verb. */
export function addClientOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--url <url>', `API base URL (else REMEDIATOR_URL, else ${DEFAULT_URL})`))
    .addOption(new Option('--token <token>', 'bearer token (else REMEDIATOR_TOKEN); prefer the variable: arguments show in ps'))
    .addOption(new Option('-o, --output <format>', 'table for people, json for scripts (the raw API JSON)').choices(['table', 'json']).default('table'));
}

/** Flags first, then the environment, then the default. Empty values count as unset. */
export function resolveClientOptions(flags: ClientFlags, env: NodeJS.ProcessEnv): ResolvedClientOptions {
  const url = nonEmpty(flags.url) ?? nonEmpty(env.REMEDIATOR_URL) ?? DEFAULT_URL;
  const token = nonEmpty(flags.token) ?? nonEmpty(env.REMEDIATOR_TOKEN);
  return { url, output: flags.output, ...(token !== undefined ? { token } : {}) };
}

function nonEmpty(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}
