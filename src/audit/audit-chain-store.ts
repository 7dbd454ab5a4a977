import type { Redis } from 'ioredis';
import { AUDIT_ENTRY_FIELD } from './audit-entry.js';
import { auditKeys, type AuditKeys } from './audit-keys.js';
import { nextStreamId } from './stream-id.js';
import { declaredKeysScript } from '../redis/declared-keys-lua.js';

/**
 * Extends the chain only from the head the sealer read (compare on lastId), so two sealers can
 * never fork it or move the head backwards, and refuses to overwrite an existing seal: a seal
 * beyond the head means the head was rolled back, and re-sealing would launder edits made since.
 * KEYS: sealed, seals. ARGV: expectedLastId ('' = none), then id, seal pairs in stream order.
 */
const COMMIT_SEALS = declaredKeysScript(`
local cur = call('HGET', KEYS[1], 'lastId')
if (cur or '') ~= ARGV[1] then return 'CONFLICT' end
local n = #ARGV
for i = 2, n, 2 do
  if call('HEXISTS', KEYS[2], ARGV[i]) == 1 then return 'SEALED' end
end
for i = 2, n, 2 do call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
call('HSET', KEYS[1], 'lastId', ARGV[n - 1], 'lastSeal', ARGV[n])
return 'OK'
`);

/**
 * Removes the oldest entries through ARGV[2], moves the anchor to it with its stored seal, drops
 * their seals and appends the audit_trimmed entry, all at once so the chain is never left without
 * a starting point. Never trims the head entry itself, so the head always names a live entry.
 * The anchor carries the sealer's MAC over it (the seal it was computed for must still be the
 * stored one).
 * KEYS: stream, seals, sealed, anchor. ARGV: expectedAnchorId ('' = none), cutId, minId (the id
 * after cutId), audit_trimmed entry JSON, the cut entry's seal, the anchor's MAC, ids whose seals
 * to drop…
 */
const TRIM_THROUGH = declaredKeysScript(`
local cur = call('HGET', KEYS[4], 'id')
if (cur or '') ~= ARGV[1] then return 'CONFLICT' end
local seal = call('HGET', KEYS[2], ARGV[2])
if not seal or seal ~= ARGV[5] or call('HGET', KEYS[3], 'lastId') == ARGV[2] then return 'UNSEALED' end
call('XTRIM', KEYS[1], 'MINID', ARGV[3])
for i = 7, #ARGV do call('HDEL', KEYS[2], ARGV[i]) end
call('HSET', KEYS[4], 'id', ARGV[2], 'seal', seal, 'mac', ARGV[6])
return call('XADD', KEYS[1], '*', '${AUDIT_ENTRY_FIELD}', ARGV[4])
`);

export interface SealedHead {
  lastId: string;
  lastSeal: string;
}

export interface TrimAnchor {
  id: string;
  seal: string;
  /** The sealer's attestation (anchorMac); absent on an anchor nobody with the key wrote. */
  mac?: string;
}

export type CommitResult = 'OK' | 'CONFLICT' | 'SEALED';
export type TrimResult = { ok: true; trimmedEntryId: string } | { ok: false; reason: 'CONFLICT' | 'UNSEALED' };

type ScriptCaller = (...args: string[]) => Promise<unknown>;

/** The chain's bookkeeping in Redis: head, anchor, seals, and the scripts that move them. */
export class AuditChainStore {
  readonly keys: AuditKeys;
  private readonly commitCmd: ScriptCaller;
  private readonly trimCmd: ScriptCaller;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = auditKeys(prefix);
    redis.defineCommand('remediatorAuditCommitSeals', { numberOfKeys: 2, lua: COMMIT_SEALS });
    redis.defineCommand('remediatorAuditTrimThrough', { numberOfKeys: 4, lua: TRIM_THROUGH });
    const commands = redis as unknown as Record<string, ScriptCaller>;
    this.commitCmd = commands.remediatorAuditCommitSeals!.bind(redis);
    this.trimCmd = commands.remediatorAuditTrimThrough!.bind(redis);
  }

  async head(): Promise<SealedHead | undefined> {
    const h = await this.redis.hgetall(this.keys.sealed);
    return h.lastId && h.lastSeal ? { lastId: h.lastId, lastSeal: h.lastSeal } : undefined;
  }

  async anchor(): Promise<TrimAnchor | undefined> {
    const h = await this.redis.hgetall(this.keys.anchor);
    return h.id && h.seal ? { id: h.id, seal: h.seal, ...(h.mac ? { mac: h.mac } : {}) } : undefined;
  }

  async commit(expectedLastId: string | undefined, seals: readonly (readonly [id: string, seal: string])[]): Promise<CommitResult> {
    if (seals.length === 0) return 'OK';
    const args = [this.keys.sealed, this.keys.seals, expectedLastId ?? ''];
    for (const [id, seal] of seals) args.push(id, seal);
    return (await this.commitCmd(...args)) as CommitResult;
  }

  /** The seal stored for an entry. */
  async sealOf(id: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.seals, id)) ?? undefined;
  }

  /**
   * Removes every entry up to and including `cutId` (whose seal is `cutSeal`) and makes it the
   * anchor, attested by `mac`; `ids` are the removed entries (for their seals).
   */
  async trimThrough(expectedAnchorId: string | undefined, cut: { id: string; seal: string; mac: string }, ids: readonly string[], trimmedEntryJson: string): Promise<TrimResult> {
    const cutId = cut.id;
    const result = await this.trimCmd(
      this.keys.stream,
      this.keys.seals,
      this.keys.sealed,
      this.keys.anchor,
      expectedAnchorId ?? '',
      cutId,
      nextStreamId(cutId),
      trimmedEntryJson,
      cut.seal,
      cut.mac,
      ...ids,
    );
    if (result === 'CONFLICT' || result === 'UNSEALED') return { ok: false, reason: result };
    return { ok: true, trimmedEntryId: String(result) };
  }
}
