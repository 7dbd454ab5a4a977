import type { AuditEntry } from './audit-entry.js';
import { entryField } from './audit-seal.js';
import { streamIdMs } from './stream-id.js';

/** A stream entry that is not an audit entry object (written by hand, or damaged). */
export interface UnreadableAuditEntry {
  type: 'unreadable';
  at: string;
  actor: string;
  raw: string;
}

/** A stream entry as readers show it; anything not an entry object becomes `unreadable` with its raw text. */
export function decodeAuditEntry(id: string, fields: readonly string[]): AuditEntry | UnreadableAuditEntry {
  const raw = entryField(fields);
  if (raw !== undefined) {
    try {
      const value: unknown = JSON.parse(raw);
      if (value !== null && typeof value === 'object' && !Array.isArray(value) && typeof (value as { type?: unknown }).type === 'string') {
        return value as AuditEntry;
      }
    } catch {
      // unreadable below
    }
  }
  return { type: 'unreadable', at: new Date(streamIdMs(id)).toISOString(), actor: 'unknown', raw: raw ?? JSON.stringify(fields) };
}
