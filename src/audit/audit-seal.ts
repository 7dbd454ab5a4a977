import { createHmac } from 'node:crypto';
import canonicalize from 'canonicalize';
import { AUDIT_ENTRY_FIELD } from './audit-entry.js';

/** `seal_0 = HMAC-SHA256(key, "remediator-audit:" + prefix)`: chains of two installs never meet. */
export function genesisSeal(key: Buffer, prefix: string): string {
  return createHmac('sha256', key).update(`remediator-audit:${prefix}`, 'utf8').digest('hex');
}

/**
 * Attests a retention anchor: only the key holder (the sealer) can move the chain's starting
 * point, so trimming the oldest entries and pointing the anchor at a stored seal without the key
 * (a forged trim) fails verify.
 */
export function anchorMac(key: Buffer, prefix: string, id: string, seal: string): string {
  return createHmac('sha256', key).update(`remediator-audit-anchor:${prefix}\n${id}\n${seal}`, 'utf8').digest('hex');
}

/** `seal_n = HMAC-SHA256(key, seal_{n-1} || canonical)`, the previous seal as its hex text. */
export function nextSeal(key: Buffer, previous: string, canonical: string): string {
  return createHmac('sha256', key).update(previous, 'utf8').update(canonical, 'utf8').digest('hex');
}

/**
 * The RFC 8785 form of a stream entry as read from Redis (flat `[field, value, …]`). Anything that
 * is not a canonicalizable JSON value (a foreign writer's garbage, a lone surrogate that RFC 8785
 * forbids) is sealed as the JSON string of its raw text instead: the chain must cover it, and a
 * single bad write must never stall sealing.
 */
export function canonicalEntry(fields: readonly string[]): string {
  const raw = entryField(fields);
  if (raw !== undefined) {
    try {
      const out = canonicalize(JSON.parse(raw));
      if (out !== undefined) return out;
    } catch {
      // falls through to the raw form
    }
  }
  return JSON.stringify(raw ?? JSON.stringify(fields));
}

export function entryField(fields: readonly string[]): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === AUDIT_ENTRY_FIELD) return fields[i + 1];
  }
  return undefined;
}
