import { defineConfig } from 'vitest/config';

// The status page driven by a real Chromium (playwright-core + /usr/bin/chromium, or
// CHROMIUM_PATH). Kept out of the default run: it needs a browser installed.
export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 90_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
