import { defineConfig } from 'vitest/config';

// Two tiers: `host` runs here on real mappings of files, /dev/shm and memfd;
// `guest` runs inside a QEMU guest on the real devices (scripts/test.mjs
// boots it). Never run the guest tier on the host.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'host',
          include: ['test/host/**/*.test.ts'],
          pool: 'forks',
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'guest',
          include: ['test/guest/**/*.test.ts'],
          pool: 'threads',
          testTimeout: 60_000,
        },
      },
    ],
  },
});
