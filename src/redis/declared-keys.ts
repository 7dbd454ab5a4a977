import { RetryableError } from '../domain/errors.js';
import { MAX_KEY_ROUNDS, NEED_KEYS_PREFIX } from './declared-keys-lua.js';

/**
 * Keys a script asked for before, by owner (an episode or a target): declared up front next time,
 * so a repeat costs one round trip. Bounded; the most recently used owners stay.
 */
export class KeyHints {
  private readonly byOwner = new Map<string, Set<string>>();
  constructor(private readonly max = 20_000) {}

  keysOf(owner: string): Iterable<string> {
    return this.byOwner.get(owner) ?? [];
  }

  add(owner: string, key: string): void {
    const keys = this.byOwner.get(owner) ?? new Set<string>();
    this.byOwner.delete(owner);
    // A stale key (an older run of the episode) is harmless to declare; keep the set small anyway.
    if (keys.size >= 8) keys.clear();
    keys.add(key);
    this.byOwner.set(owner, keys);
    if (this.byOwner.size > this.max) this.byOwner.delete(this.byOwner.keys().next().value as string);
  }
}

/**
 * Calls a script that may answer NEED_KEYS (src/redis/declared-keys-lua.ts) until it has every key
 * it needs: each round adds the keys it named and remembers them in `hints`. A script that answers
 * NEED_KEYS wrote nothing, so calling again is safe.
 */
export async function callWithDeclaredKeys(initial: Iterable<string>, hints: KeyHints, call: (keys: string[]) => Promise<unknown>): Promise<unknown> {
  const keys = new Set(initial);
  for (let round = 1; ; round++) {
    const reply = await call([...keys]);
    if (typeof reply !== 'string' || !reply.startsWith(NEED_KEYS_PREFIX)) return reply;
    if (round >= MAX_KEY_ROUNDS) throw new RetryableError(`a Redis script still named undeclared keys after ${round} rounds (state changing under it); retry`);
    for (const [owner, key] of JSON.parse(reply.slice(NEED_KEYS_PREFIX.length)) as [string, string][]) {
      keys.add(key);
      hints.add(owner, key);
    }
  }
}
