import { defineConfig } from 'vitest/config';

/**
 * The same test files again, on a Redis Cluster of three primaries (test/helpers/test-redis.ts):
 * the webhook, manual runs, approvals and pause, the node budget under a multi-process storm, and
 * the audit sealer. `npm test` runs it after the main run; `npm run test:cluster` alone.
 */
export default defineConfig({
  test: {
    include: [
      'test/integration/webhook.test.ts',
      'test/integration/oncall-api.test.ts',
      'test/integration/guards.test.ts',
      'test/integration/multi-process-storm.test.ts',
      'test/integration/audit-sealer.test.ts',
      'test/integration/declared-keys.test.ts',
    ],
    env: { REMEDIATOR_TEST_REDIS: 'cluster' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
    pool: 'forks',
    globalSetup: ['test/helpers/build-dist.ts'],
  },
});
