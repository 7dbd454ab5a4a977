/**
 * Key names of the audit log. Every key sits under the `{prefix}` hash tag so the seal and trim
 * scripts, which touch several at once, stay in one Redis Cluster slot with the engine's keys.
 */
export interface AuditKeys {
  /** The stream of entries. */
  stream: string;
  /** Hash: stream id → hex seal. */
  seals: string;
  /** Hash `{lastId, lastSeal}`: the newest sealed entry. */
  sealed: string;
  /** Hash `{id, seal}`: the last entry removed by retention; the chain restarts from it. */
  anchor: string;
  /** String: instance id of the elected sealer. */
  sealerLock: string;
  /** Hash: the last verified point of the chain, attested with the key (see verify-audit-chain.ts). */
  verified: string;
}

export function auditKeys(prefix: string): AuditKeys {
  const stream = `{${prefix}}:audit`;
  return {
    stream,
    seals: `${stream}:seals`,
    sealed: `${stream}:sealed`,
    anchor: `${stream}:anchor`,
    sealerLock: `${stream}:sealer`,
    verified: `${stream}:verified`,
  };
}
