/**
 * Kubernetes resource quantities (`64Mi`, `1.5Gi`, `500M`, `1e9`) as numbers, and the memory
 * arithmetic raise-memory-limit needs. Pure: the adapter uses it to read the wire, playbooks to
 * validate their params and to compute new limits.
 */

const DECIMAL_SUFFIX: Record<string, number> = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const BINARY_SUFFIX: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

export const MI = 2 ** 20;

/**
 * A Kubernetes resource quantity as a number; NaN when unparseable. Extended resources such as
 * GPUs are integers in practice, but the schema allows any quantity string, so a malformed or
 * suffixed value must not read as "no GPUs" by accident.
 */
export function parseQuantity(value: string | number | undefined): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  const match = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+))?(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$/.exec(value.trim());
  if (!match) return Number.NaN;
  const mantissa = Number(match[1]) * (match[2] ? 10 ** Number(match[2]) : 1);
  const suffix = match[3] ?? '';
  return mantissa * (BINARY_SUFFIX[suffix] ?? DECIMAL_SUFFIX[suffix] ?? Number.NaN);
}

/**
 * A memory quantity in whole bytes, rounded up as the API server's `Quantity.Value()` does;
 * undefined when it is not a valid, non-negative, finite quantity.
 */
export function memoryBytes(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = parseQuantity(value);
  if (!Number.isFinite(n) || n < 0) return undefined;
  return Math.ceil(n);
}

/** A valid memory quantity above zero (what a `maxLimit` param must be). */
export function isPositiveMemoryQuantity(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const bytes = memoryBytes(value);
  return bytes !== undefined && bytes > 0;
}

/**
 * `bytes × factor` rounded up to whole Mi. The product is computed in Mi with a tolerance far
 * below one byte, so 100Mi × 1.1 is 110Mi, not 111Mi through a floating-point residue.
 */
export function scaleUpToMi(bytes: number, factor: number): number {
  const mi = (bytes / MI) * factor;
  return Math.ceil(mi - 1e-9) * MI;
}

/** Bytes as a quantity: `96Mi` for whole Mi (`2Gi` for whole Gi), plain bytes otherwise. */
export function formatMemory(bytes: number): string {
  if (bytes > 0 && bytes % 2 ** 30 === 0) return `${bytes / 2 ** 30}Gi`;
  if (bytes > 0 && bytes % MI === 0) return `${bytes / MI}Mi`;
  return String(bytes);
}
