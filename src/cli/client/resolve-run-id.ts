import type { Run } from '../../domain/run.js';
import type { ApiClient } from './api-client.js';
import { CliError, EXIT } from './exit-codes.js';

const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** How many recent runs a short ID is looked up among. */
const SEARCH_LIMIT = 2000;

/**
 * Tables show the first 8 characters of a run ID; this turns such a prefix (at least 4
 * characters) into the full ID by looking through the most recent runs. A full ID, or anything
 * that does not look like a prefix, is returned as it is for the server to judge.
 */
export async function resolveRunId(client: ApiClient, idOrPrefix: string): Promise<string> {
  const text = idOrPrefix.trim();
  if (FULL_ID.test(text) || !/^[0-9a-f-]{4,35}$/i.test(text)) return text;
  const prefix = text.toLowerCase();
  const matches = new Set<string>();
  let cursor: string | undefined;
  let seen = 0;
  do {
    const page = await client.get<{ items: Run[]; nextCursor?: string | null }>('api/v1/runs', { limit: 500, cursor });
    for (const run of page.items) if (run.id.toLowerCase().startsWith(prefix)) matches.add(run.id);
    seen += page.items.length;
    cursor = page.nextCursor ?? undefined;
  } while (cursor && seen < SEARCH_LIMIT);
  if (matches.size === 1) return [...matches][0]!;
  if (matches.size === 0) throw new CliError(`no run ID starts with "${text}" among the ${seen} most recent runs`, EXIT.usage, ['give the full ID (remediator runs -o json shows it)']);
  throw new CliError(`"${text}" matches ${matches.size} runs; give more characters`, EXIT.usage, [...matches].slice(0, 10));
}
