import type { ApiClient } from './api-client.js';
import type { OutputFormat } from './client-options.js';
import type { Output } from './output.js';

/** What every client verb gets: the API, where to write, the output format and the clock. */
export interface VerbContext {
  client: ApiClient;
  out: Output;
  output: OutputFormat;
  now: () => number;
}

/** The raw API JSON, pretty-printed for scripts (`-o json`). */
export function printJson(ctx: VerbContext, value: unknown): void {
  ctx.out.out(`${JSON.stringify(value, null, 2)}\n`);
}
