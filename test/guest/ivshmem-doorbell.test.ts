// Doorbell interrupts on a real ivshmem-doorbell device (QEMU connected to an
// ivshmem server). A guest rings its own IVPosition: QEMU signals our own
// eventfd, the MSI-X vector fires, the module wakes the read() Node awaits.
// Only doorbell devices are touched: ivshmem.test.ts, which may run at the
// same time, unbinds device 0 (a plain one).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';

import { Ivshmem } from '../../lib/ivshmem/device.js';
import { needs, skipIf } from './helpers/devices.js';

/** `wait`, or after `ms` close `s` (which wakes the read) and fail: never hang the guest. */
async function within(ms: number, s: Ivshmem, wait: Promise<bigint>): Promise<bigint> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      s.close();
      reject(new Error(`no interrupt within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([wait, late]);
  } finally {
    clearTimeout(timer);
  }
}

const bell = Ivshmem.list().find((d) => d.variant === 'doorbell' && d.node !== null);

needs('doorbell', bell !== undefined).describe('ivshmem-doorbell interrupts', () => {
  it('awaits its own doorbell without blocking the event loop', async () => {
    using s = Ivshmem.open({ address: bell!.address });
    expect(s.vectors).toBeGreaterThan(0);
    const last = s.vectors - 1;
    const wait = s.waitForInterrupt();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await new Promise((r) => setTimeout(r, 50)); // the event loop runs while read() blocks
    s.ring(s.ivPosition, last);
    const bit = 1n << BigInt(last);
    let mask = await within(10_000, s, wait);
    // another vector may have been pending already: wait on until ours shows
    for (let i = 0; i < 5 && (mask & bit) === 0n; i++) mask |= await within(10_000, s, s.waitForInterrupt());
    clearInterval(timer);
    expect(mask & bit).toBe(bit);
    expect(ticks).toBeGreaterThan(0);
  });

  it('close() wakes a pending wait, which resolves 0n', async () => {
    const s = Ivshmem.open({ address: bell!.address });
    const wait = s.waitForInterrupt();
    s.close();
    expect(await wait).toBe(0n);
    expect(s.closed).toBe(true);
  });

  const noSmoke = skipIf(!existsSync(process.env.DEVMAP_IVSHMEM_SMOKE ?? ''), 'no C smoke test in the image (DEVMAP_IVSHMEM_SMOKE)');
  it('delivers vector 0 to an eventfd and the rest to read() (C smoke test)', noSmoke, () => {
    const out = execFileSync(process.env.DEVMAP_IVSHMEM_SMOKE!, [bell!.node!], { encoding: 'utf8' });
    expect(out).toMatch(/ok\s+eventfd of vector 0 signalled/);
    expect(out).toMatch(/ok\s+read\(\) reports the last vector/);
    expect(out).toMatch(/^0 failure\(s\)$/m);
  });
});
