// The guest tier with vitest on the host and its worker in a QEMU guest
// (lib/harness/session/vitest-pool.ts): one guest runs every test/guest/** file.
//   node node_modules/vitest/vitest.mjs run --config qemu/vitest.guest.config.mjs
// DEVMAP_MACHINE picks the machine (default x86_64) and with it the specs;
// a machine with several guests runs one of these per guest (scripts/test.mjs).
// Needs dist/ (tsc).
import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

import { devmapGuestPool } from '../dist/harness/session/vitest-pool.js';
import { machineSpecs } from '../dist/harness/session/session.js';
import { DEFAULT_MACHINE, MACHINES } from '../dist/harness/machines/machines.js';

// The specs this machine runs (machine.specs; default all of test/guest).
const specs = machineSpecs(MACHINES[process.env.DEVMAP_MACHINE || DEFAULT_MACHINE] ?? MACHINES[DEFAULT_MACHINE]);

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    name: 'guest',
    include: specs.include,
    exclude: [...configDefaults.exclude, ...specs.exclude],
    pool: devmapGuestPool({
      machine: process.env.DEVMAP_MACHINE,
      artifacts: fileURLToPath(new URL('../artifacts', import.meta.url)),
      onGuestEnd: (e) =>
        console.error(`devmap: guest ${e.machine}${e.role ? ` ${e.role}` : ''} (${e.accel}): /init ran the worker ${e.bootMs} ms after QEMU started, worker ready at ${e.readyMs} ms, guest ended at ${e.totalMs} ms (${e.outcome})`),
    }),
    // One guest for all files: no per-file isolation, one worker.
    isolate: false,
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 60_000,
  },
});
