// The first test of every guest boot in `npm run bench` (not named
// *-test.mjs, so a bare `node --test` on the host leaves it alone), run as
// `node --test` would run a driver's tests in `devmap guest run` (see
// docs/testing-drivers.md); bench/guests.mjs times the boot from QEMU's
// start to this test's `ok` line.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Ivshmem } from 'devmap';

test('devmap maps the first ivshmem device', () => {
  const shm = Ivshmem.open();
  try {
    assert.ok(shm.memory.bytes.length >= 1 << 20);
  } finally {
    shm.close();
  }
});
