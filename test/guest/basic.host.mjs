// Host side of basic.test.ts, run by the guest suite (lib/harness/session/session.ts loads every test/guest/*.host.mjs):
// after the guest run, the guest's answer must be in the ivshmem backing file.
import { readAt } from './helpers/backing.mjs';
import { PLAIN } from './layouts.mjs';

/** @param {import('../../dist/harness/session/session.js').HookContext} ctx */
export function after(ctx) {
  if (!ctx.ivshmem.attached) return; // e.g. armhf-vexpress: no PCI, no ivshmem; the guest spec skips too
  const want = Buffer.from(`guest saw ${ctx.marker}`, 'latin1');
  const got = readAt(ctx.ivshmem.path, PLAIN.basicAnswer.at, want.length);
  if (!got.equals(want)) {
    throw new Error(`ivshmem backing file at 0x${PLAIN.basicAnswer.at.toString(16)}: want "${want}", got ${JSON.stringify(got.toString('latin1'))}`);
  }
}
