// The guest tier: vitest on the host, its worker in a QEMU guest, through
// devmap/vitest's pool (lib/vitest/pool.ts) -- the same pool users get.
//   node node_modules/vitest/vitest.mjs run --config qemu/vitest.guest.config.mjs
// DEVMAP_MACHINE picks the machine (default x86_64) and with it the specs;
// a machine with several guests runs one of these per guest (scripts/test.mjs).
// Where the machine can be snapshotted, every spec file gets a fresh guest
// restored from a snapshot (isolate: true); elsewhere one guest runs them all.
// Needs dist/ (tsc).
import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

import { devmapPool } from '../dist/vitest/pool.js';
import { machineSpecs } from '../dist/harness/session/session.js';
import { snapshotMachines } from '../dist/harness/qemu/snapshot.js';
import { DEFAULT_MACHINE, MACHINES } from '../dist/harness/machines/machines.js';

const machine = MACHINES[process.env.DEVMAP_MACHINE || DEFAULT_MACHINE] ?? MACHINES[DEFAULT_MACHINE];
// The specs this machine runs (machine.specs; default all of test/guest).
const specs = machineSpecs(machine);
// DEVMAP_SNAPSHOT=0: one booted guest for every file, as on machines that cannot be snapshotted.
const isolate = snapshotMachines().includes(machine.name) && process.env.DEVMAP_SNAPSHOT !== '0';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    name: 'guest',
    include: specs.include,
    exclude: [...configDefaults.exclude, ...specs.exclude],
    pool: devmapPool({
      machine: machine.name,
      snapshot: isolate,
      artifacts: fileURLToPath(new URL('../artifacts', import.meta.url)),
      onGuestEnd: (e) =>
        console.error(`devmap: guest ${e.machine}${e.role ? ` ${e.role}` : ''} (${e.accel}): ${e.bootMs < e.totalMs ? `/init ran the worker ${e.bootMs} ms after QEMU started, ` : ''}worker ready at ${e.readyMs} ms, guest ended at ${e.totalMs} ms (${e.outcome})`),
    }),
    isolate,
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 60_000,
    // A guest's stop (the worker exits, /init reports, QEMU quits) can take more than vitest's default 10 s on a loaded TCG host.
    teardownTimeout: 30_000,
  },
});
