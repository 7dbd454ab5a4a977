import { createHash } from 'node:crypto';

/**
 * Idempotency key of one alert episode (rule + fingerprint + startsAt), used as the BullMQ job id
 * and the dedup key. Hashed because the raw values contain `:` (timestamps) and could be all
 * digits, both of which BullMQ rejects as custom ids; NUL separators keep `("a", "bc")` and
 * `("ab", "c")` apart. 128 bits of sha256 is ample against accidental collisions.
 */
export function episodeKey(rule: string, fingerprint: string, startsAt: string): string {
  const digest = createHash('sha256').update(`${rule}\x00${fingerprint}\x00${startsAt}`).digest('hex');
  return `ep-${digest.slice(0, 32)}`;
}
