// `npm test`'s guest tier for the boot figures of `npm run bench`:
// qemu/vitest.guest.config.mjs as it is, with a pool that reports when QEMU
// started and a reporter that notes when the first test result reached the
// host; bench/guests.mjs runs it with one spec file and reads the two JSON
// lines it prints. Boots cold, or with DEVMAP_BENCH_SNAPSHOT=1 restores
// (or takes) the snapshot in $DEVMAP_SNAPSHOTS; keeps its guest logs in a
// temp folder (the test harness owns artifacts/).
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import base from '../qemu/vitest.guest.config.mjs';
import { devmapPool } from '../dist/vitest/pool.js';

const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
let firstAt = 0;

export default {
  ...base,
  test: {
    ...base.test,
    pool: devmapPool({
      machine: process.env.DEVMAP_MACHINE,
      snapshot: process.env.DEVMAP_BENCH_SNAPSHOT === '1',
      artifacts: join(tmpdir(), 'devmap-bench-artifacts'),
      onGuestEnd: (e, r) => say({ guestEnd: { ...e, qemuAt: r.startedAt } }),
    }),
    reporters: [
      {
        onTestCaseResult: () => void (firstAt ||= Date.now()),
        onTestRunEnd: (modules) => say({ firstResultAt: firstAt, passed: modules.every((m) => m.ok()) }),
      },
    ],
  },
};
