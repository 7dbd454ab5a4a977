import type { Logger } from 'pino';

/**
 * Every audit entry is also a pino line, so the trail survives in the log pipeline even if Redis
 * is lost. The entry's fields are spread at top level for log queries; `auditId` is the stream id
 * when known.
 */
export function logAuditEntries(logger: Logger, entries: readonly object[], ids?: readonly string[]): void {
  entries.forEach((entry, i) => {
    const type = (entry as { type?: unknown }).type;
    const id = ids?.[i];
    logger.info({ ...entry, audit: true, ...(id !== undefined && { auditId: id }) }, `audit ${String(type)}`);
  });
}
