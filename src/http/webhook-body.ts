import { createHash } from 'node:crypto';
import express, { type Request, type RequestHandler } from 'express';
import { toWellFormed } from './json-body.js';

/** Thrown from the parser's `verify` hook to skip parsing a body that may be a known replay. */
class ReplayHint extends Error {
  constructor(readonly raw: Buffer) {
    super('replay');
  }
}

/** A hint without a stack trace: capturing one cost more than the rest of a replay's parsing. */
function replayHint(raw: Buffer): ReplayHint {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new ReplayHint(raw);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

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
 * The webhook's body parser: jsonBody's rules (any content type, `limit` → 413, lone surrogates →
 * U+FFFD), plus the raw body's digest. When `mayReplay(digest)` says the same bytes were answered
 * before, the JSON is not parsed at all: the handler answers from memory, or parses it then
 * (`parseUnparsed`).
 */
export function webhookBody(limit: string | number, mayReplay: (digest: string) => boolean): RequestHandler {
  const parse = express.json({
    limit,
    type: () => true,
    strict: false,
    verify: (req, _res, buf, encoding) => {
      if (encoding !== 'utf-8' && encoding !== 'utf8') return;
      const digest = createHash('sha256').update(buf).digest('base64');
      (req as unknown as Request & { webhook: WebhookBody }).webhook = { digest };
      if (mayReplay(digest)) throw replayHint(buf);
    },
  });
  return (req, res, next) => {
    parse(req, res, (err?: unknown) => {
      if (err instanceof ReplayHint) {
        webhookBodyOf(req).unparsed = err.raw;
        next();
        return;
      }
      if (err) {
        next(err);
        return;
      }
      req.body = toWellFormed(req.body);
      next();
    });
  };
}
