/**
 * Redis stream ids are `<ms>-<seq>` with two unsigned 64-bit parts, so they are compared and
 * incremented as BigInts: string order is wrong ("9-0" > "10-0") and Number loses precision.
 */
function parts(id: string): [bigint, bigint] {
  const dash = id.indexOf('-');
  if (dash < 0) return [BigInt(id), 0n];
  return [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))];
}

export function compareStreamIds(a: string, b: string): number {
  const [am, as] = parts(a);
  const [bm, bs] = parts(b);
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return 0;
}

/** The smallest id greater than `id` (for XTRIM MINID, which keeps ids >= its argument). */
export function nextStreamId(id: string): string {
  const [ms, seq] = parts(id);
  return seq === 0xffffffffffffffffn ? `${ms + 1n}-0` : `${ms}-${seq + 1n}`;
}

export function streamIdMs(id: string): number {
  return Number(parts(id)[0]);
}
