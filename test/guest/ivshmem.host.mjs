// Host side of ivshmem.test.ts: after the guest run, the string the guest
// wrote through /dev/ivshmem0 with each cache mode must be in the backing
// file, where layouts.mjs puts it.
import { readAt } from './helpers/backing.mjs';
import { CACHE_MODES, cacheModeAt } from './layouts.mjs';

/** @param {import('../../dist/harness/session/session.js').HookContext} ctx */
export function after(ctx) {
  if (!ctx.ivshmem.attached) return; // no ivshmem-plain on this machine; the guest spec skips too
  const wrong = CACHE_MODES.flatMap((mode) => {
    const want = Buffer.from(`guest-${mode} ${ctx.marker}`, 'latin1');
    const got = readAt(ctx.ivshmem.path, cacheModeAt(mode), want.length);
    return got.equals(want) ? [] : [`at 0x${cacheModeAt(mode).toString(16)}: want "${want}", got ${JSON.stringify(got.toString('latin1'))}`];
  });
  if (wrong.length) throw new Error(`ivshmem backing file: ${wrong.join('; ')}`);
}
