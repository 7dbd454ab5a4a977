import { createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { jsonBody, skipParse, toWellFormed } from './json-body.js';

/** What `webhookBody` leaves on the request. */
export interface WebhookBody {
  /** SHA-256 of the raw (decoded) body; absent when it was not UTF-8. */
  digest?: string;
  /** Set instead of `req.body` when the digest may be a replay: the raw bytes, not parsed yet. */
  unparsed?: Buffer;
}

export function webhookBodyOf(req: Request): WebhookBody {
  return (req as Request & { webhook?: WebhookBody }).webhook ?? {};
}

/**
 * The body of a replay that turned out not to be answerable from memory, parsed as jsonBody would:
 * the same bytes parsed before (a leading BOM, which JSON.parse refuses, is dropped).
 */
export function parseUnparsed(raw: Buffer): unknown {
  const text = raw.toString('utf8');
  return toWellFormed(JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text));
}

/**
 * The webhook's body parser: jsonBody (any content type, `limit` → 413, lone surrogates → U+FFFD),
 * plus the raw body's digest. When `mayReplay(digest)` says the same bytes were answered before,
 * the JSON is not parsed at all: the handler answers from memory, or parses it then
 * (`parseUnparsed`).
 */
export function webhookBody(limit: string | number, mayReplay: (digest: string) => boolean): RequestHandler {
  return jsonBody(limit, (req, raw, encoding) => {
    if (encoding !== 'utf-8' && encoding !== 'utf8') return;
    const digest = createHash('sha256').update(raw).digest('base64');
    const body: WebhookBody = { digest };
    (req as Request & { webhook?: WebhookBody }).webhook = body;
    if (!mayReplay(digest)) return;
    body.unparsed = raw;
    throw skipParse();
  });
}
