import { createHash, createHmac } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { AuditKeys } from './audit-keys.js';

/**
 * The point up to which the chain was last verified, so the next verify need not recompute every
 * seal again. It holds a digest of the raw stream content through that point (cheap to recompute:
 * no JSON canonicalisation, no HMAC per entry), and is attested with the audit key, so nobody
 * without the key can move it or make it cover a changed stream. A later verify re-reads the
 * entries through the checkpoint and compares the digest; any change (an edited, reordered,
 * removed or inserted entry) makes it fall back to a full verify that names the first bad entry.
 */
export interface VerifiedCheckpoint {
  /** The last entry verified (the sealed head at the time). */
  id: string;
  /** Its seal. */
  seal: string;
  /** The retention anchor it was verified from ('' = none): a trim since invalidates it. */
  anchorId: string;
  /** RawDigest over every entry after the anchor through `id`. */
  digest: string;
  /** Entries after the anchor through `id`. */
  count: number;
  /** The newest audit_trimmed anchor recorded through `id` ('' = none). */
  trimAnchor: string;
}

const NEWLINE = Buffer.from('\n');
const NUL = Buffer.from([0]);

/**
 * SHA-256 over the raw entries in stream order (`id ‖ \n ‖ field ‖ NUL ‖ value …`), one streaming
 * hash: far cheaper than recomputing seals, and `peek` reads it at any point without ending it.
 */
export class RawDigest {
  private readonly hash = createHash('sha256');
  count = 0;

  add(id: string | Buffer, fields: readonly (string | Buffer)[]): void {
    this.hash.update(id).update(NEWLINE);
    fields.forEach((f, i) => {
      if (i > 0) this.hash.update(NUL);
      this.hash.update(f);
    });
    this.hash.update(NEWLINE);
    this.count++;
  }

  peek(): string {
    return this.hash.copy().digest('hex');
  }
}

function mac(key: Buffer, prefix: string, cp: VerifiedCheckpoint): string {
  const text = [cp.id, cp.seal, cp.anchorId, cp.digest, String(cp.count), cp.trimAnchor].join('\n');
  return createHmac('sha256', key).update(`remediator-audit-verified:${prefix}\n${text}`, 'utf8').digest('hex');
}

/** The cached checkpoint, if present and attested with this key. */
export async function readVerifiedCheckpoint(redis: Redis, keys: AuditKeys, key: Buffer, prefix: string): Promise<VerifiedCheckpoint | undefined> {
  const h = await redis.hgetall(keys.verified);
  if (!h.id || !h.seal || h.digest === undefined || h.count === undefined || !h.mac) return undefined;
  const cp: VerifiedCheckpoint = { id: h.id, seal: h.seal, anchorId: h.anchorId ?? '', digest: h.digest, count: Number(h.count), trimAnchor: h.trimAnchor ?? '' };
  return h.mac === mac(key, prefix, cp) ? cp : undefined;
}

export async function writeVerifiedCheckpoint(redis: Redis, keys: AuditKeys, key: Buffer, prefix: string, cp: VerifiedCheckpoint): Promise<void> {
  await redis.hset(keys.verified, { ...cp, count: String(cp.count), mac: mac(key, prefix, cp) });
}

/**
 * Whether the stream through the checkpoint is byte for byte what was verified: same entries,
 * same ids, same order, and the checkpoint entry still carries its seal. Returns the digest so far
 * (to go on with the entries after it), or undefined when anything differs.
 */
export async function unchangedSince(redis: Redis, keys: AuditKeys, cp: VerifiedCheckpoint, pageSize: number): Promise<RawDigest | undefined> {
  if ((await redis.hget(keys.seals, cp.id)) !== cp.seal) return undefined;
  const digest = new RawDigest();
  let cursor = cp.anchorId ? `(${cp.anchorId}` : '-';
  for (;;) {
    // Buffers: no UTF-8 decoding of every entry (a non-UTF-8 entry only costs a full verify).
    const rows = (await redis.xrangeBuffer(keys.stream, cursor, cp.id, 'COUNT', pageSize)) as [Buffer, Buffer[]][];
    for (const [id, fields] of rows) digest.add(id, fields);
    if (rows.length < pageSize) break;
    cursor = `(${rows[rows.length - 1]![0].toString()}`;
  }
  return digest.count === cp.count && digest.peek() === cp.digest ? digest : undefined;
}
