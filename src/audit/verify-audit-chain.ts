import type { Redis } from 'ioredis';
import { AuditChainStore, type SealedHead, type TrimAnchor } from './audit-chain-store.js';
import { anchorMac, canonicalEntry, entryField, genesisSeal, nextSeal } from './audit-seal.js';
import { compareStreamIds, streamIdMs } from './stream-id.js';
import { RawDigest, readVerifiedCheckpoint, unchangedSince, writeVerifiedCheckpoint, type VerifiedCheckpoint } from './verified-checkpoint.js';

export interface AuditChainReport {
  ok: boolean;
  /** Sealed entries recomputed and matched. */
  checked: number;
  /** Entries after the sealed head: not yet chained, so not evidence of anything. */
  unsealed: number;
  firstBad?: { id: string; reason: string };
  /** The first and last entry whose seals this verify recomputed. */
  range?: { from: string; to: string };
  /** Entries through this id were confirmed unchanged against the cached, key-attested checkpoint of an earlier verify. */
  unchangedThrough?: { id: string; entries: number };
}

export interface VerifyAuditChainOptions {
  redis: Redis;
  prefix: string;
  key: Buffer;
  /**
   * A seal taken from the sealer's `audit seal` log line: the chain must still contain that entry
   * with that seal (unless retention removed it). Catches removal of the newest entries together
   * with the head, which the chain alone cannot see.
   */
  checkpoint?: { id: string; seal: string };
  /** Entries per XRANGE page (default 500). */
  pageSize?: number;
  /** `audit.maxAge` / `audit.maxEntries`: each recorded trim must have been due under them. */
  retention?: { maxAgeMs: number; maxEntries: number };
  /**
   * Start from the cached checkpoint of the last successful verify (after confirming the stream
   * through it is unchanged) and refresh it; without, every seal is recomputed.
   */
  incremental?: boolean;
}

type Outcome = AuditChainReport & { anchorId: string | undefined; verified?: VerifiedCheckpoint };

/**
 * Recomputes the chain from the retention anchor (or seal_0) in stream order, page by page. A
 * failure while retention moved the anchor underneath is retried, since trimmed entries vanish
 * mid-walk.
 */
export async function verifyAuditChain(opts: VerifyAuditChainOptions): Promise<AuditChainReport> {
  const store = new AuditChainStore(opts.redis, opts.prefix);
  const { redis, key, prefix } = opts;
  const pageSize = opts.pageSize ?? 500;
  let outcome: Outcome | undefined;
  // A logged checkpoint may lie before the cached one: then every entry must be walked.
  if (opts.incremental && !opts.checkpoint) {
    const cached = await readVerifiedCheckpoint(redis, store.keys, key, prefix);
    const anchorId = (await store.anchor())?.id ?? '';
    const digest = cached && cached.anchorId === anchorId ? await unchangedSince(redis, store.keys, cached, Math.max(pageSize, 5000)) : undefined;
    if (cached && digest) {
      outcome = await verifyOnce(opts, store, { checkpoint: cached, digest });
      if (outcome.ok) outcome.unchangedThrough = { id: cached.id, entries: cached.count };
    }
  }
  for (let attempt = 0; attempt < 3 && !outcome?.ok; attempt++) {
    outcome = await verifyOnce(opts, store);
    if (outcome.ok || (await store.anchor())?.id === outcome.anchorId) break;
  }
  const { anchorId: _anchorId, verified, ...report } = outcome!;
  if (opts.incremental && report.ok && verified) await writeVerifiedCheckpoint(redis, store.keys, key, prefix, verified);
  return report;
}

/** Walks the chain from the anchor, or from `resume` (a checkpoint whose prefix was confirmed unchanged). */
async function verifyOnce(opts: VerifyAuditChainOptions, store: AuditChainStore, from?: { checkpoint: VerifiedCheckpoint; digest: RawDigest }): Promise<Outcome> {
  const resume = from?.checkpoint;
  const { redis, key } = opts;
  const { stream, seals: sealsKey } = store.keys;
  const pageSize = opts.pageSize ?? 500;
  const anchor: TrimAnchor | undefined = await store.anchor();
  let head: SealedHead | undefined = await store.head();
  let checked = 0;
  let unsealed = 0;
  const bad = (id: string, reason: string): Outcome => ({ ok: false, checked, unsealed, firstBad: { id, reason }, anchorId: anchor?.id });

  if (anchor) {
    if (anchor.mac !== anchorMac(key, opts.prefix, anchor.id, anchor.seal)) return bad(anchor.id, 'retention anchor not attested by the audit key (a trim made without the key)');
    const stale = await redis.xrange(stream, '-', anchor.id, 'COUNT', 1);
    if (stale.length > 0) return bad(stale[0]![0], 'entry at or before the retention anchor');
  }

  let previous = resume?.seal ?? anchor?.seal ?? genesisSeal(key, opts.prefix);
  let cursor = resume ? `(${resume.id}` : anchor ? `(${anchor.id}` : '-';
  let headSeen = resume !== undefined && head !== undefined && resume.id === head.lastId;
  let checkpointSeen = false;
  let newestTrimAnchor: string | undefined = resume?.trimAnchor || undefined;
  // The raw digest through the newest sealed entry: the checkpoint the next verify starts from.
  const digest = from?.digest ?? new RawDigest();
  let lastSealed: { id: string; seal: string } | undefined = resume ? { id: resume.id, seal: resume.seal } : undefined;
  let first: string | undefined;
  for (;;) {
    const rows = await redis.xrange(stream, cursor, '+', 'COUNT', pageSize);
    if (rows.length === 0) break;
    const stored = await redis.hmget(sealsKey, ...rows.map(([id]) => id));
    for (let i = 0; i < rows.length; i++) {
      const [id, fields] = rows[i]!;
      const seal = stored[i] ?? undefined;
      const trim = trimmedEntry(fields);
      if (trim !== undefined) {
        newestTrimAnchor = trim.anchorId;
        const undue = opts.retention ? trimNotDue(trim, opts.retention) : undefined;
        if (undue) return bad(id, undue);
      }

      let isSealed = head !== undefined && compareStreamIds(id, head.lastId) <= 0;
      if (!isSealed && seal !== undefined) {
        // The sealer may have moved on since the head was read.
        const fresh = await store.head();
        if (fresh && compareStreamIds(id, fresh.lastId) <= 0) {
          head = fresh;
          isSealed = true;
        } else {
          return bad(id, 'seal stored beyond the sealed head (head rolled back or removed)');
        }
      }
      if (!isSealed) {
        unsealed++;
        continue;
      }
      const expected = nextSeal(key, previous, canonicalEntry(fields));
      if (seal === undefined) return bad(id, 'no seal for an entry before the sealed head (entry inserted, or its seal removed)');
      if (seal !== expected) return bad(id, 'seal does not match the chain (entry edited, or an entry before it deleted, inserted or reordered)');
      previous = expected;
      checked++;
      first ??= id;
      digest.add(id, fields);
      lastSealed = { id, seal: expected };
      if (id === head!.lastId) {
        headSeen = true;
        if (head!.lastSeal !== expected) return bad(id, 'sealed head seal does not match the chain');
      }
      if (opts.checkpoint && id === opts.checkpoint.id) {
        checkpointSeen = true;
        if (opts.checkpoint.seal !== expected) return bad(id, 'seal differs from the logged checkpoint');
      }
    }
    cursor = `(${rows[rows.length - 1]![0]}`;
    if (rows.length < pageSize) break;
  }

  if (head && !headSeen) return bad(head.lastId, 'sealed head names an entry no longer in the stream (newest sealed entries removed)');
  if (anchor && !head) return bad(anchor.id, 'retention anchor present but the sealed head is missing');
  if (anchor && newestTrimAnchor !== anchor.id) return bad(anchor.id, 'retention anchor not recorded by the newest audit_trimmed entry');
  const cp = opts.checkpoint;
  if (cp && !checkpointSeen && !(anchor && compareStreamIds(cp.id, anchor.id) <= 0)) {
    return bad(cp.id, 'logged checkpoint entry is no longer in the sealed chain');
  }
  const verified: VerifiedCheckpoint | undefined = lastSealed
    ? { id: lastSealed.id, seal: lastSealed.seal, anchorId: anchor?.id ?? '', digest: digest.peek(), count: digest.count, trimAnchor: newestTrimAnchor ?? '' }
    : undefined;
  return {
    ok: true,
    checked,
    unsealed,
    ...(first !== undefined && lastSealed ? { range: { from: first, to: lastSealed.id } } : {}),
    anchorId: anchor?.id,
    ...(verified ? { verified } : {}),
  };
}

interface TrimRecord {
  anchorId: string;
  at?: string;
  reason?: string;
  lengthBefore?: number;
}

function trimmedEntry(fields: readonly string[]): TrimRecord | undefined {
  const raw = entryField(fields);
  if (raw === undefined || !raw.includes('audit_trimmed')) return undefined;
  try {
    const e = JSON.parse(raw) as { type?: unknown; anchorId?: unknown; at?: unknown; reason?: unknown; lengthBefore?: unknown };
    if (e.type !== 'audit_trimmed' || typeof e.anchorId !== 'string') return undefined;
    return {
      anchorId: e.anchorId,
      ...(typeof e.at === 'string' ? { at: e.at } : {}),
      ...(typeof e.reason === 'string' ? { reason: e.reason } : {}),
      ...(typeof e.lengthBefore === 'number' ? { lengthBefore: e.lengthBefore } : {}),
    };
  } catch {
    return undefined;
  }
}

/** Why a recorded trim was not due under the retention settings; undefined when it was. */
function trimNotDue(trim: TrimRecord, retention: { maxAgeMs: number; maxEntries: number }): string | undefined {
  if (trim.reason === 'maxAge') {
    const at = trim.at ? Date.parse(trim.at) : NaN;
    if (Number.isNaN(at) || streamIdMs(trim.anchorId) >= at - retention.maxAgeMs) return `trim through ${trim.anchorId} was not due under audit.maxAge`;
    return undefined;
  }
  if (trim.reason === 'maxEntries') {
    if (trim.lengthBefore === undefined || trim.lengthBefore <= retention.maxEntries) return `trim through ${trim.anchorId} was not due under audit.maxEntries`;
    return undefined;
  }
  return `trim through ${trim.anchorId} gives no retention reason`;
}
