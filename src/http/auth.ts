import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { HttpError } from './http-error.js';

export type Role = 'alertmanager' | 'viewer' | 'operator' | 'admin';

export interface Principal {
  name: string;
  role: Role;
}

/** Which roles may do what a given role may do (docs/configuration.md: operator ⊃ viewer, admin ⊃ operator). */
const GRANTS: Record<Role, readonly Role[]> = {
  alertmanager: ['alertmanager'],
  viewer: ['viewer', 'operator', 'admin'],
  operator: ['operator', 'admin'],
  admin: ['admin'],
};

export interface AuthFailureSink {
  failed(client: string, reason: string): void;
  /** Seconds a client that failed too often must wait (answered 429); undefined when it may try. */
  retryAfter?(client: string): number | undefined;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Bearer-token auth. Tokens are compared as SHA-256 digests with timingSafeEqual, over every
 * configured token, so neither length nor position leaks through timing.
 */
export class TokenAuth {
  private readonly entries: { digest: Buffer; principal: Principal }[];
  constructor(
    tokens: readonly { name: string; role: Role; token: string }[],
    private readonly failures: AuthFailureSink,
  ) {
    this.entries = tokens.map((t) => ({ digest: digest(t.token), principal: { name: t.name, role: t.role } }));
  }

  identify(header: string | undefined): Principal | undefined {
    const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
    if (!match) return undefined;
    const presented = digest(match[1]!.trim());
    let found: Principal | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, presented)) found = entry.principal;
    }
    return found;
  }

  require(role: Role): RequestHandler {
    return (req, res, next) => {
      const wait = this.failures.retryAfter?.(clientOf(req));
      if (wait !== undefined) {
        res.setHeader('Retry-After', String(wait));
        return next(new HttpError(429, 'too_many_requests', `too many failed authentications from this address; retry after ${wait}s`));
      }
      const principal = this.identify(req.headers.authorization);
      if (!principal) {
        this.failures.failed(clientOf(req), req.headers.authorization ? 'invalid token' : 'missing token');
        res.setHeader('WWW-Authenticate', 'Bearer');
        return next(new HttpError(401, 'unauthorized', 'a valid bearer token is required'));
      }
      if (!GRANTS[role].includes(principal.role)) {
        this.failures.failed(clientOf(req), `role ${principal.role} may not ${req.method} ${req.path}`);
        return next(new HttpError(403, 'forbidden', `role ${principal.role} may not do this; it needs ${role}`));
      }
      res.locals.principal = principal;
      next();
    };
  }
}

function clientOf(req: Request): string {
  return req.socket.remoteAddress ?? 'unknown';
}
