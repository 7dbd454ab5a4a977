import { PermanentError } from './errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `30s`, `10m`, `1h`, `7d` (and `500ms`) into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) throw new PermanentError(`invalid duration "${text}" (use e.g. 30s, 10m, 1h, 7d)`);
  return Number(match[1]) * (UNITS[match[2]!] ?? 0);
}

export function isDuration(text: string): boolean {
  return /^(\d+)(ms|s|m|h|d)$/.test(text.trim());
}
