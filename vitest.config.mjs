import { defineConfig } from 'vitest/config';

// The host tier: vitest on this machine, on real mappings of files, /dev/shm
// and memfd, plus tests that drive the CLI and the harness from outside --
// some of them (demo, harness, harness-snapshot, guest-kmod, guide-ivshmem) boot QEMU guests
// themselves. The guest tier (test/guest/**) runs inside a QEMU guest through
// qemu/vitest.guest.config.mjs; `npm test` (scripts/test.mjs) runs both.
export default defineConfig({
  test: {
    name: 'host',
    include: ['test/host/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
  },
});
