import type { Express } from 'express';

/** A route an express app answers, with its path written as an OpenAPI template (`/api/v1/runs/{id}`). */
export interface RegisteredRoute {
  method: string;
  path: string;
}

interface LayerLike {
  route?: { path: unknown; methods: Record<string, boolean> };
  rawPath?: unknown;
  handle?: { stack?: LayerLike[] };
}

/** `/api/v1/runs/:id` → `/api/v1/runs/{id}`. */
export function toOpenApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/**
 * Every (method, path) the app's router stack registers, mounted routers included, so tests and
 * docs can be held to what the server really serves. Paths that are not strings (regexps,
 * arrays) are reported as they are, which no description will match: a test then fails and
 * someone decides how to describe them.
 */
export function registeredRoutes(app: Express): RegisteredRoute[] {
  const out: RegisteredRoute[] = [];
  const walk = (stack: readonly LayerLike[], prefix: string): void => {
    for (const layer of stack) {
      if (layer.route) {
        const path = typeof layer.route.path === 'string' ? `${prefix}${layer.route.path}` : String(layer.route.path);
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') out.push({ method: method.toLowerCase(), path: toOpenApiPath(path) });
        }
      } else if (layer.handle?.stack) {
        const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
        walk(layer.handle.stack, `${prefix}${mount}`);
      }
    }
  };
  walk((app.router as unknown as { stack: LayerLike[] }).stack, '');
  return out;
}
