// The guest tier with vitest on the host and its worker in a QEMU guest
// (lib/qemu/vitest-pool.ts): one guest runs every test/guest/** file.
//   node node_modules/vitest/vitest.mjs run --config qemu/vitest.guest.config.mjs
// DEVMAP_MACHINE picks the machine (default x86_64). Needs dist/ (tsc).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

import { devmapGuestPool } from '../dist/qemu/vitest-pool.js';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    name: 'guest',
    include: ['test/guest/**/*.test.ts'],
    pool: devmapGuestPool({
      machine: process.env.DEVMAP_MACHINE,
      artifacts: fileURLToPath(new URL('../artifacts', import.meta.url)),
      onGuestEnd: (e) =>
        console.error(`devmap: guest ${e.machine} (${e.accel}): /init ran the worker ${e.bootMs} ms after QEMU started, worker ready at ${e.readyMs} ms, guest ended at ${e.totalMs} ms (${e.outcome})`),
    }),
    // One guest for all files: no per-file isolation, one worker.
    isolate: false,
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 60_000,
  },
});
