import { pino } from 'pino';
import type { Redis } from 'ioredis';
import { createApp, type AppDeps } from '../../src/http/create-app.js';
import { TokenAuth } from '../../src/http/auth.js';
import { Metrics } from '../../src/observability/metrics.js';

/**
 * The app of an api process with every route registered and nothing behind them: enough to walk
 * its router (src/http/openapi-routes.ts), not to answer a request that reaches Redis.
 */
export function routeOnlyApp() {
  const none = {} as never;
  const deps: AppDeps = {
    logger: pino({ level: 'silent' }),
    metrics: new Metrics({ version: 'test', playbooks: [], rules: [], defaultMetrics: false }),
    ready: async () => ({ ok: true, checks: {} }),
    api: {
      auth: new TokenAuth([], { failed: () => undefined }),
      intake: none,
      simulator: none,
      inbox: none,
      runs: none,
      playbooks: new Map(),
      bodyLimit: '1mb',
      control: none,
      manualRuns: none,
      pauses: none,
      status: async () => ({}),
      redisUp: () => true,
      audit: { redis: {} as Redis, prefix: 'route-walk', key: Buffer.alloc(32) },
    },
  };
  return createApp(deps);
}
