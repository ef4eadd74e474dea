// Host side of basic.test.ts, run by the guest suite (lib/harness/session/session.ts loads every test/guest/*.host.mjs):
// after the guest run, the guest's answer must be in the ivshmem backing file.
import { closeSync, openSync, readSync } from 'node:fs';

const GUEST_AREA = 0x2000;

/** @param {{ ivshmem: { path: string, size: number, attached: boolean }, marker: string }} ctx */
export function after(ctx) {
  if (!ctx.ivshmem.attached) return; // e.g. armhf-vexpress: no PCI, no ivshmem; the guest spec skips too
  const want = Buffer.from(`guest saw ${ctx.marker}`, 'latin1');
  const got = Buffer.alloc(want.length);
  const fd = openSync(ctx.ivshmem.path, 'r');
  try {
    readSync(fd, got, 0, got.length, GUEST_AREA);
  } finally {
    closeSync(fd);
  }
  if (!got.equals(want)) {
    throw new Error(`ivshmem backing file at 0x${GUEST_AREA.toString(16)}: want "${want}", got "${got.toString('latin1')}"`);
  }
}
