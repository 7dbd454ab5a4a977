import express, { type Request, type RequestHandler } from 'express';

/**
 * The API's JSON body parser: any content type, any JSON value (each handler says what it needs,
 * as a 400), at most `limit` bytes (413), and every string and key well-formed Unicode.
 *
 * JSON may spell a lone surrogate (`"\ud800"`), which JSON.parse keeps as such. Such a string can
 * not be encoded as UTF-8, and the Redis scripts' JSON decoder refuses its escape outright ("invalid
 * unicode escape code"): an alert whose fingerprint, alertname or generatorURL held one made the
 * webhook answer 500, which Alertmanager retries for ever. Lone surrogates become U+FFFD here, as
 * Go's encoding/json (Alertmanager's) decodes them, so no handler ever sees one.
 */
export function jsonBody(limit: string | number, verify?: (req: Request, raw: Buffer, encoding: string) => void): RequestHandler {
  const parse = express.json({ limit, type: () => true, strict: false, ...(verify ? { verify: (req: Request, _res: unknown, raw: Buffer, encoding: string) => verify(req, raw, encoding) } : {}) });
  return (req, res, next) => {
    parse(req, res, (err?: unknown) => {
      if (err instanceof SkipParse) {
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

/**
 * Thrown by a `verify` hook of jsonBody: the body is not parsed, and the request goes on without
 * `req.body` (the hook kept what it needs). Made by `skipParse`, without a stack trace: capturing
 * one costs more than the rest of reading a small body.
 */
class SkipParse extends Error {}

export function skipParse(): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new SkipParse('body not parsed');
  } finally {
    Error.stackTraceLimit = limit;
  }
}

interface WellFormedString {
  isWellFormed(): boolean;
  toWellFormed(): string;
}

function fix(s: string): string {
  return (s as unknown as WellFormedString).isWellFormed() ? s : (s as unknown as WellFormedString).toWellFormed();
}

/**
 * A parsed JSON value with lone surrogates in its strings and keys replaced by U+FFFD, changed in
 * place. Iterative: a body may nest deeper than the call stack goes.
 */
export function toWellFormed(value: unknown): unknown {
  if (typeof value === 'string') return fix(value);
  if (typeof value !== 'object' || value === null) return value;
  const stack: object[] = [value];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const v: unknown = node[i];
        if (typeof v === 'string') node[i] = fix(v);
        else if (typeof v === 'object' && v !== null) stack.push(v);
      }
      continue;
    }
    const record = node as Record<string, unknown>;
    let badKey = false;
    for (const key of Object.keys(record)) {
      if (!(key as unknown as WellFormedString).isWellFormed()) badKey = true;
      // JSON.parse makes every key an own data property (`__proto__` too), so these read and write it.
      const v = record[key];
      if (typeof v === 'string') record[key] = fix(v);
      else if (typeof v === 'object' && v !== null) stack.push(v);
    }
    if (badKey) {
      // Re-added in order, as own properties (a plain assignment to `__proto__` would set the prototype).
      const entries = Object.entries(record);
      for (const [key] of entries) delete record[key];
      for (const [key, v] of entries) Object.defineProperty(record, fix(key), { value: v, enumerable: true, writable: true, configurable: true });
    }
  }
  return value;
}
