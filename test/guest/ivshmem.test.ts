// Runs inside the guest on QEMU's real ivshmem device with the devmap_ivshmem
// module loaded. The host wrote DEVMAP_IVSHMEM_MARKER at PLAIN.marker of the
// backing file; what the guest writes at PLAIN.cacheModes is checked by the
// host after the run (ivshmem.host.mjs). Offsets: layouts.mjs.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants as fsc, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';

import { Ivshmem, MODULE_NAME, type CacheMode } from '../../lib/ivshmem/device.js';
import { IOC, cacheCode } from '../../lib/ivshmem/abi.js';
import { PAGE_SIZE } from '../../lib/mapping.js';
import { mapFd } from '../../lib/map.js';
import { findVma, readMaps } from '../../lib/maps.js';
import { native } from '../../lib/native.js';
import { needs, skipIf } from './helpers/devices.js';
import { CACHE_MODES, cacheModeAt, PLAIN } from './layouts.mjs';

const MARKER = process.env.DEVMAP_IVSHMEM_MARKER ?? '';
const devices = Ivshmem.list();
const dev0 = devices[0];
const DRIVER_DIR = `/sys/bus/pci/drivers/${MODULE_NAME}`;
const MODES: readonly CacheMode[] = CACHE_MODES;
const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
const markerOf = (b: Uint8Array): string => text(b.subarray(PLAIN.marker.at, PLAIN.marker.at + MARKER.length));

function errno(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

function slabKiB(): number {
  return Number(/SUnreclaim:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
}

needs('ivshmem', dev0 !== undefined).describe('ivshmem through /dev/ivshmem0', () => {
  const marker = MARKER;

  it('is bound to the companion module and has a node', () => {
    expect(marker, 'DEVMAP_IVSHMEM_MARKER').not.toBe('');
    // device 0 must be ivshmem-plain: the last test unbinds it
    expect(dev0!.variant).toBe('plain');
    expect(dev0!.driver).toBe(MODULE_NAME);
    expect(dev0!.node).toBe('/dev/ivshmem0');
    expect(existsSync('/dev/ivshmem0')).toBe(true);
  });

  it.each(MODES)('reads the host marker and writes for the host with cache %s', (cache) => {
    using s = Ivshmem.open({ index: 0, cache });
    expect(s.path).toBe('module');
    expect(s.cache).toBe(cache);
    // x86 PAT grants WB only where the MTRRs say WB; SeaBIOS makes the PCI hole UC
    if (cache === 'wb') expect(['wb', 'uc']).toContain(s.grantedCache);
    else expect(s.grantedCache).toBe(cache);
    expect(s.size).toBe(dev0!.size);
    expect(s.memory.length).toBe(s.size);
    expect(markerOf(s.memory.bytes)).toBe(marker);
    const msg = Buffer.from(`guest-${cache} ${marker}`);
    s.memory.bytes.set(msg, cacheModeAt(cache));
    const vma = findVma(readMaps(), s.memory.address)!;
    expect(vma.path).toBe('/dev/ivshmem0');
    expect(vma.perms).toBe('rw-s');
    expect(vma.vmFlags).toEqual(expect.arrayContaining(['io', 'pf', 'dd', 'de']));
  });

  it('maps a window at a non-zero offset', () => {
    const at = PLAIN.window.at;
    using whole = Ivshmem.open({ cache: 'wb' });
    whole.memory.bytes.set(Buffer.from('in the window'), at);
    using part = Ivshmem.open({ cache: 'uc', offset: at, length: PAGE_SIZE });
    expect(part.memory.length).toBe(PAGE_SIZE);
    expect(text(part.memory.bytes.subarray(0, 13))).toBe('in the window');
    expect(findVma(readMaps(), part.memory.address)!.offset).toBe(BigInt(at));
  });

  it('gives a second mapping of the BAR the attribute of the first on x86 (PAT), its own elsewhere', () => {
    using first = Ivshmem.open({ cache: 'wc' });
    using second = Ivshmem.open({ cache: 'uc' });
    expect(first.grantedCache).toBe('wc');
    // x86 PAT tracks memory types per physical range; ARM has no such tracking
    expect(second.grantedCache).toBe(process.arch === 'x64' ? first.grantedCache : 'uc');
    expect(markerOf(second.memory.bytes)).toBe(marker);
  });

  it('has no interrupts on ivshmem-plain: waitForInterrupt() rejects with EOPNOTSUPP (libuv: ENOTSUP)', async () => {
    using s = Ivshmem.open();
    expect(s.vectors).toBe(0);
    await expect(s.waitForInterrupt()).rejects.toMatchObject({ code: 'ENOTSUP', errno: -95, syscall: 'read' });
  });

  it('reports IVPosition and the variant through the info ioctl', () => {
    using s = Ivshmem.open();
    expect(s.ivPosition).toBe(s.readRegister('ivposition'));
    expect(s.device.variant).toBe(dev0!.variant);
    if (dev0!.variant === 'doorbell') expect(s.vectors).toBeGreaterThan(0);
    else expect(s.vectors).toBe(0);
  });

  it('refuses bad mappings with the driver errno', () => {
    const fd = openSync('/dev/ivshmem0', fsc.O_RDWR);
    try {
      const { PROT_READ, PROT_WRITE, MAP_SHARED, MAP_PRIVATE } = native.constants;
      const rw = PROT_READ | PROT_WRITE;
      const size = dev0!.size;
      expect(errno(() => native.mmap(fd, size + PAGE_SIZE, rw, MAP_SHARED, 0n))).toBe('EINVAL'); // past the BAR
      expect(errno(() => native.mmap(fd, PAGE_SIZE, rw, MAP_SHARED, BigInt(size)))).toBe('EINVAL'); // starts at the end
      expect(errno(() => native.mmap(fd, 2 * PAGE_SIZE, rw, MAP_SHARED, BigInt(size - PAGE_SIZE)))).toBe('EINVAL');
      expect(errno(() => native.mmap(fd, PAGE_SIZE, rw, MAP_SHARED, (1n << 62n) & ~BigInt(PAGE_SIZE - 1)))).toBe('EINVAL'); // huge vm_pgoff
      expect(errno(() => native.mmap(fd, PAGE_SIZE, rw, MAP_PRIVATE, 0n))).toBe('EINVAL');
      expect(errno(() => native.ioctl(fd, IOC.SET_CACHE, Uint8Array.of(3, 0, 0, 0)))).toBe('EINVAL');
      expect(errno(() => native.ioctl(fd, IOC.INFO & ~0xff | 0x7f))).toBe('ENOTTY');
    } finally {
      closeSync(fd);
    }
  });

  it('refuses growth by mremap (VM_DONTEXPAND: EFAULT), checked by the C smoke test when present', () => {
    const smoke = process.env.DEVMAP_IVSHMEM_SMOKE;
    if (!smoke || !existsSync(smoke)) {
      // Node has no mremap; the flag that makes the kernel refuse is still checked here.
      using s = Ivshmem.open();
      expect(findVma(readMaps(), s.memory.address)!.vmFlags).toContain('de');
      return;
    }
    const out = execFileSync(smoke, ['/dev/ivshmem0'], { encoding: 'utf8' });
    expect(out).toMatch(/ok\s+mremap growth refused with EFAULT/);
    expect(out).toMatch(/^0 failure\(s\)$/m);
  });

  it('opens, maps and unmaps 10,000 times without leaking fds, VMAs or kernel memory', () => {
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const vmas = (): number => readMaps().filter((v) => v.path === '/dev/ivshmem0').length;
    const mode = new Uint8Array(4);
    const cycle = (i: number): void => {
      const fd = openSync('/dev/ivshmem0', fsc.O_RDWR);
      mode[0] = cacheCode(MODES[i % 3]!);
      native.ioctl(fd, IOC.SET_CACHE, mode);
      const m = mapFd(fd, '/dev/ivshmem0', { length: PAGE_SIZE });
      if (m.bytes[PLAIN.marker.at] !== marker.charCodeAt(0)) throw new Error(`iteration ${i}: marker not visible`);
      m.unmap();
      closeSync(fd);
    };
    for (let i = 0; i < 200; i++) cycle(i); // warm up allocator caches
    const before = { fds: fds(), vmas: vmas(), slab: slabKiB() };
    for (let i = 0; i < 10_000; i++) cycle(i);
    expect(fds()).toBe(before.fds);
    expect(vmas()).toBe(before.vmas);
    // one leaked struct per cycle would be >= 2.5 MiB; allow slab noise
    expect(slabKiB() - before.slab).toBeLessThan(1024);
  });

  it('refuses rmmod while a mapping is open, and the mapping still works', () => {
    using s = Ivshmem.open();
    const r = (() => {
      try {
        execFileSync('rmmod', [MODULE_NAME], { stdio: 'pipe' });
        return 0;
      } catch (err) {
        return (err as { status: number }).status;
      }
    })();
    expect(r).not.toBe(0);
    expect(readFileSync('/proc/modules', 'utf8')).toMatch(new RegExp(`^${MODULE_NAME} `, 'm'));
    expect(markerOf(s.memory.bytes)).toBe(marker);
  });

  it('with two devices, gives each its own node', skipIf(devices.length < 2, 'only one ivshmem device in this guest'), () => {
    expect(devices.map((d) => d.node)).toEqual(devices.map((_, i) => `/dev/ivshmem${i}`));
    using a = Ivshmem.open({ index: 0 });
    using b = Ivshmem.open({ index: 1 });
    const at = PLAIN.twoDevices.at;
    b.memory.bytes[at] = 0x5a;
    a.memory.bytes[at] = 0xa5;
    expect(b.memory.bytes[at]).toBe(0x5a);
  });

  // Last: unbinds the driver (revoking live mappings), uses sysfs, rebinds.
  it('revokes mappings on unbind, falls back to sysfs resource2, and rebinds', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', childScript()], { stdio: ['pipe', 'pipe', 'inherit'] });
    const ready = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    expect(ready).toContain(`mapped ${marker.slice(0, 8)}`);
    const held = Ivshmem.open();
    writeFileSync(`${DRIVER_DIR}/unbind`, dev0!.address);
    try {
      expect(existsSync('/dev/ivshmem0')).toBe(false);
      expect(errno(() => held.readRegister('ivposition'))).toBe('ENODEV');
      const exit = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_c, sig) => resolve(sig)));
      child.stdin.end('touch\n'); // the child now reads its revoked mapping
      expect(await exit).toBe('SIGBUS');
      held.close(); // must not throw or crash after the device went away

      const listed = Ivshmem.list()[0]!;
      expect(listed.driver).toBeNull();
      expect(listed.node).toBeNull();
      // Only arches that can map BARs write-combined (x86, arm64; not armhf) have resource2_wc.
      const sysfsWc = existsSync(`${dev0!.sysfsPath}/resource2_wc`);
      if (!sysfsWc) expect(errno(() => Ivshmem.open({ cache: 'wc' }))).toBe('ERR_DEVMAP_CACHE_UNSUPPORTED');
      for (const cache of sysfsWc ? (['uc', 'wc'] as const) : (['uc'] as const)) {
        using s = Ivshmem.open({ cache });
        expect(s.path).toBe('sysfs');
        expect(s.memory.path).toMatch(cache === 'wc' ? /resource2_wc$/ : /resource2$/);
        expect(markerOf(s.memory.bytes)).toBe(marker);
        expect(findVma(readMaps(), s.memory.address)!.vmFlags).toEqual(expect.arrayContaining(['io', 'pf']));
      }
      expect(errno(() => Ivshmem.open({ cache: 'wb' }))).toBe('ERR_DEVMAP_CACHE_UNSUPPORTED');
      expect(errno(() => Ivshmem.open({ via: 'module' }))).toBe('ERR_DEVMAP_NO_MODULE');
    } finally {
      writeFileSync(`${DRIVER_DIR}/bind`, dev0!.address);
    }
    using again = Ivshmem.open();
    expect(again.path).toBe('module');
    expect(markerOf(again.memory.bytes)).toBe(marker);
  });
});

/** A process that maps ivshmem0, reports, then touches it once told to. */
function childScript(): string {
  const lib = new URL('../../dist/ivshmem/device.js', import.meta.url).href;
  return `
    import { Ivshmem } from ${JSON.stringify(lib)};
    const s = Ivshmem.open();
    process.stdout.write('mapped ' + Buffer.from(s.memory.bytes.subarray(${PLAIN.marker.at}, ${PLAIN.marker.at + 8})).toString('latin1') + '\\n');
    process.stdin.once('data', () => { console.log(s.memory.bytes[0]); process.exit(0); });
  `;
}
