// Runs inside the guest on QEMU's edu device (-device edu) with devmap_edu.ko
// loaded: the device moves the bytes, Node checks them. Every DMA costs
// ~100 ms (a fixed timer in QEMU's model), so transfers are few.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readlinkSync, writeFileSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { expect, it } from 'vitest';

import { EDU_IOC, EDU_TO_DEVICE, encodeTransfer } from '../../lib/edu/abi.js';
import { Edu } from '../../lib/edu/device.js';
import { mapFd } from '../../lib/map.js';
import { findVma, readMaps } from '../../lib/maps.js';
import { native } from '../../lib/native.js';
import { needs } from './helpers/devices.js';

const NODE = '/dev/edu0';
const DRIVER = '/sys/bus/pci/drivers/devmap_edu';
const fill = (b: Uint8Array, seed: number) => b.forEach((_, i) => (b[i] = (i * 13 + seed) & 0xff));
const memFreeKiB = () => Number(/MemFree:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);

function failure(fn: () => unknown): { code?: string; syscall?: string; path?: string } {
  try {
    fn();
  } catch (err) {
    return err as { code?: string };
  }
  throw new Error('expected a failure');
}

/** A raw open file of the driver, bypassing lib/edu/device.ts's checks. */
function rawAlloc(fd: number, size: number): { id: number; offset: bigint; size: bigint } {
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt(size), true);
  native.ioctl(fd, EDU_IOC.ALLOC, b);
  return { id: v.getUint32(24, true), offset: v.getBigUint64(8, true), size: v.getBigUint64(0, true) };
}

needs('edu', existsSync(NODE)).describe(`edu DMA through ${NODE}`, () => {
  it('identifies the device and computes factorials', () => {
    using edu = Edu.open();
    const info = edu.info();
    expect(info.ident & 0xff).toBe(0xed);
    // the module's dma_bits: 28 (QEMU's default edu), 32 on ARM virt (no RAM below 1 GiB)
    const bits = BigInt(readFileSync('/sys/module/devmap_edu/parameters/dma_bits', 'utf8').trim());
    expect(bits).toBe(['armhf-virt', 'arm64-virt'].includes(process.env.DEVMAP_MACHINE ?? '') ? 32n : 28n);
    expect(info.dmaMask).toBe((1n << bits) - 1n);
    expect(info.window).toBe(4095);
    expect(['msi', 'intx', 'poll']).toContain(info.irqMode);
    expect(edu.liveness(0x12345678)).toBe(~0x12345678 >>> 0);
    const exact = [1, 1, 2, 6, 24, 120, 720, 5040, 40320, 362880, 3628800, 39916800, 479001600];
    expect(exact.map((_, n) => edu.factorial(n))).toEqual(exact);
    expect(edu.factorial(13)).toBe(6227020800 % 2 ** 32); // the device's 32-bit wrap
    expect(edu.factorial(34)).toBe(0); // 34! has 32 factors of two
    expect(() => edu.factorial(-1)).toThrow(/n must be an integer in \[0, 4294967295\]/);
  });

  it('round-trips bytes through the device, up to the window end, without blocking the event loop', async () => {
    using edu = Edu.open();
    using src = edu.allocDma(8192);
    using dst = edu.allocDma(8192);
    fill(src.bytes, 5);
    expect(src.dmaAddress <= edu.info().dmaMask).toBe(true); // what the driver's DMA mask allows
    // [offset, deviceOffset, length]: the whole window; one byte at 4094;
    // 1 KiB ending at 4094 from a range that crosses a page of the buffer.
    const cases = [
      [100, 0, 4095],
      [8191, 4094, 1],
      [4000, 3071, 1024],
    ] as const;
    for (const [offset, deviceOffset, length] of cases) {
      dst.bytes.fill(0);
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      await edu.dmaToDevice(src, { offset, deviceOffset, length });
      clearInterval(timer);
      expect(ticks, 'the event loop ran during the ~100 ms transfer').toBeGreaterThan(2);
      await edu.dmaFromDevice(dst, { offset: 8192 - length, deviceOffset, length });
      expect(Buffer.from(dst.bytes.subarray(8192 - length)).equals(src.bytes.subarray(offset, offset + length))).toBe(true);
      expect(dst.bytes.subarray(0, 8192 - length).every((b) => b === 0)).toBe(true);
    }
  });

  it('refuses ranges past either end, in TypeScript and in the driver, and the VM survives', async () => {
    using edu = Edu.open();
    using buf = edu.allocDma(4096);
    await expect(edu.dmaToDevice(buf, { deviceOffset: 4094, length: 2 })).rejects.toThrow(/length must be an integer in \[1, 1\].*device window ends at 4095/);
    await expect(edu.dmaToDevice(buf, { deviceOffset: 4095, length: 1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(edu.dmaFromDevice(buf, { offset: 4000, length: 97 })).rejects.toThrow(/buffer has 4096 bytes/);
    await expect(edu.dmaFromDevice(buf, { length: 0 })).rejects.toBeInstanceOf(RangeError);

    // The same ranges written straight to the driver: refused, not passed to QEMU.
    const fd = openSync(NODE, 'r+');
    try {
      const { id } = rawAlloc(fd, 4096);
      const raw = (offset: number, deviceOffset: number, length: number, bufId = id) =>
        failure(() => writeSync(fd, encodeTransfer(bufId, EDU_TO_DEVICE, { offset, deviceOffset, length, timeoutMs: 0 }))).code;
      expect(raw(0, 4094, 2)).toBe('EINVAL'); // touches device byte 4095
      expect(raw(0, 4095, 1)).toBe('EINVAL');
      expect(raw(4090, 0, 7)).toBe('EINVAL'); // past the buffer
      expect(raw(0, 0, 0)).toBe('EINVAL');
      expect(raw(0, 0, 1, 9999)).toBe('ENOENT'); // no such buffer
    } finally {
      closeSync(fd);
    }
    await edu.dmaToDevice(buf, { deviceOffset: 4094, length: 1 }); // still alive
  });

  it('reports a timeout as ETIMEDOUT, then EBUSY while the engine still runs', async () => {
    using edu = Edu.open();
    using buf = edu.allocDma(4096);
    const before = edu.stats();
    await expect(edu.dmaToDevice(buf, { length: 16, timeoutMs: 1 })).rejects.toMatchObject({ code: 'ETIMEDOUT', syscall: 'write', path: NODE });
    await expect(edu.dmaToDevice(buf, { length: 16 })).rejects.toMatchObject({ code: 'EBUSY', syscall: 'write' });
    await new Promise((r) => setTimeout(r, 300));
    await edu.dmaToDevice(buf, { length: 16 });
    const after = edu.stats();
    expect(after.timeouts - before.timeouts).toBe(1);
    expect(after.transfers - before.transfers).toBe(1);
  });

  it('maps with MAP_SHARED only, with the VmFlags of dma_mmap_coherent', () => {
    using edu = Edu.open();
    using buf = edu.allocDma(100);
    expect(buf.size).toBe(4096);
    const vma = findVma(readMaps(), buf.address)!;
    console.log(`edu DMA buffer VMA: ${vma.perms} VmFlags: ${vma.vmFlags.join(' ')}`);
    expect(vma.perms).toBe('rw-s');
    // remap_pfn_range() (what dma_mmap_coherent does without an IOMMU) marks
    // the VMA io + pfnmap, not expandable, not dumped. Measured in 6.1:
    // rd wr sh mr mw me ms pf io de ar dd sd (ar: x86 PAT tracking).
    expect(vma.vmFlags).toEqual(expect.arrayContaining(['rd', 'wr', 'sh', 'io', 'pf', 'de', 'dd']));
    const fd = openSync(NODE, 'r+');
    try {
      const { offset } = rawAlloc(fd, 4096);
      const flags = native.constants;
      expect(failure(() => native.mmap(fd, 4096, flags.PROT_READ, flags.MAP_PRIVATE, offset)).code).toBe('EINVAL');
      expect(failure(() => mapFd(fd, NODE, { offset, length: 8192 })).code).toBe('EINVAL'); // past the end
      expect(failure(() => mapFd(fd, NODE, { offset: 4242n << 24n, length: 4096 })).code).toBe('EINVAL'); // no such buffer
    } finally {
      closeSync(fd);
    }
  });

  it('keeps a buffer until its last mapping is gone, even after free or close', () => {
    using probe = Edu.open();
    const base = probe.stats();
    const fd = openSync(NODE, 'r+');
    const a = rawAlloc(fd, 4096);
    const m = mapFd(fd, NODE, { offset: a.offset, length: 4096 });
    m.bytes.fill(0xa5);
    native.ioctl(fd, EDU_IOC.FREE, a.id); // freed while mapped
    expect(failure(() => native.ioctl(fd, EDU_IOC.FREE, a.id)).code).toBe('ENOENT');
    expect(probe.stats().freed).toBe(base.freed);
    closeSync(fd); // and the fd closed too
    expect(m.bytes.every((b) => b === 0xa5)).toBe(true);
    m.unmap();
    expect(probe.stats().freed).toBe(base.freed + 1);

    const edu = Edu.open();
    const buf = edu.allocDma(8192);
    fill(buf.bytes, 9);
    edu.close();
    expect(buf.bytes[8191]).toBe((8191 * 13 + 9) & 0xff);
    expect(probe.stats().liveBytes).toBe(base.liveBytes + 8192);
    buf.free();
    buf.free();
    expect(buf.bytes.length).toBe(0);
    expect(probe.stats()).toMatchObject({ liveBytes: base.liveBytes, freed: base.freed + 2 });
  });

  it('leaks nothing over 1,000 alloc/map/free cycles', () => {
    using edu = Edu.open();
    const before = edu.stats();
    const free0 = memFreeKiB();
    for (let i = 0; i < 1000; i++) {
      using buf = edu.allocDma(4096 * (1 + (i % 4)));
      buf.bytes[buf.size - 1] = i & 0xff;
    }
    const after = edu.stats();
    expect(after.allocated - before.allocated).toBe(1000);
    expect(after.freed - before.freed).toBe(1000);
    expect(after.liveBytes).toBe(before.liveBytes);
    // 1,000 leaked buffers would be ~10 MiB; allow Node's own heap growth.
    expect(memFreeKiB()).toBeGreaterThan(free0 - 4096);
  });

  it('refuses rmmod while mapped and survives unbind with a live mapping', () => {
    const bdf = basename(readlinkSync('/sys/class/misc/edu0/device'));
    const edu = Edu.open();
    const buf = edu.allocDma(4096);
    buf.bytes.fill(0x3c);
    edu.close();
    const rmmod = spawnSync('rmmod', ['devmap_edu'], { encoding: 'utf8' });
    expect(rmmod.error, 'rmmod must exist in the guest').toBeUndefined();
    expect(rmmod.status, `rmmod: ${rmmod.stderr}`).not.toBe(0);
    expect(readFileSync('/proc/modules', 'utf8')).toMatch(/^devmap_edu /m);
    writeFileSync(`${DRIVER}/unbind`, bdf);
    try {
      expect(existsSync(NODE)).toBe(false);
      expect(buf.bytes.every((b) => b === 0x3c)).toBe(true);
      buf.free();
      expect(failure(() => Edu.open()).code).toBe('ENOENT');
    } finally {
      writeFileSync(`${DRIVER}/bind`, bdf);
    }
    using again = Edu.open();
    expect(again.stats().liveBytes).toBe(0);
  });
});
