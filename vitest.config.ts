import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Run by `npm test` after everything else (vitest.after-suite.config.ts).
    exclude: ['test/after-suite/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration files start their own redis-server and simulated cluster; two at a time fits
    // the 2-core CI machine without starving the timing contracts (503 within 2 s).
    maxWorkers: 2,
    pool: 'forks',
    // Tests spawn the compiled bin: dist/ is rebuilt first when the sources changed.
    globalSetup: ['test/helpers/build-dist.ts', 'test/helpers/sim-auth-log.ts'],
  },
});
