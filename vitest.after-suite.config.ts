import { defineConfig } from 'vitest/config';

// Checks over what the whole suite recorded (`npm test` runs it after vitest.config.ts's run).
export default defineConfig({
  test: {
    include: ['test/after-suite/**/*.test.ts'],
  },
});
