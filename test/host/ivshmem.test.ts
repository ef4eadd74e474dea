// Host side of ivshmem, no guest needed: the backing file (real files in
// /dev/shm), sysfs parsing and open()'s error paths through a faked
// IvshmemSys whose sysfs is shaped like a guest's /sys/bus/pci/devices.
import { spawnSync } from 'node:child_process';
import { existsSync, openSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

import { Ivshmem, listIvshmem, NO_DEVICE, openIvshmem } from '../../lib/ivshmem/device.js';
import { openHostFile } from '../../lib/ivshmem/host.js';
import { IOC } from '../../lib/ivshmem/abi.js';
import { Mapping } from '../../lib/mapping.js';
import { mapFile } from '../../lib/map.js';
import { parseResources, type SysfsReader } from '../../lib/ivshmem/pci.js';
import { ivshmemSys, type IvshmemSys } from '../../lib/ivshmem/sys.js';
import { countMaps, tempDir } from '../helpers/tmp.js';

const shm = existsSync('/dev/shm') ? '/dev/shm' : undefined;

/** A fake sysfs: `files` maps paths to contents, `links` to symlink targets. */
function fakeSysfs(files: Record<string, string>, links: Record<string, string> = {}): SysfsReader {
  const all = [...Object.keys(files), ...Object.keys(links)];
  return {
    readFile: (p) => {
      if (!(p in files)) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      return files[p]!;
    },
    readlink: (p) => links[p],
    exists: (p) => all.some((f) => f === p || f.startsWith(p + '/')),
    readdir: (p) => [...new Set(all.filter((f) => f.startsWith(p + '/')).map((f) => f.slice(p.length + 1).split('/')[0]!))],
  };
}

const ROOT = '/sys/bus/pci/devices';
const resources = (bar1: string, bar2: string): string =>
  ['0x00000000febf1000 0x00000000febf10ff 0x0000000000040200', bar1, bar2, ...Array(10).fill('0x0 0x0 0x0')].join('\n');
const NONE = '0x0000000000000000 0x0000000000000000 0x0000000000000000';
const BAR2_4M = '0x00000000fe000000 0x00000000fe3fffff 0x000000000014220c';

function device(addr: string, extra: { bar1?: string; driver?: string; misc?: string; device?: string } = {}): { files: Record<string, string>; links: Record<string, string> } {
  const d = `${ROOT}/${addr}`;
  const files: Record<string, string> = {
    [`${d}/vendor`]: '0x1af4\n',
    [`${d}/device`]: `${extra.device ?? '0x1110'}\n`,
    [`${d}/resource`]: resources(extra.bar1 ?? NONE, BAR2_4M),
  };
  if (extra.misc) files[`${d}/misc/${extra.misc}/dev`] = '10:123\n';
  const links: Record<string, string> = extra.driver ? { [`${d}/driver`]: `../../../bus/pci/drivers/${extra.driver}` } : {};
  return { files, links };
}

function sysfsOf(...devs: ReturnType<typeof device>[]): SysfsReader {
  return fakeSysfs(Object.assign({}, ...devs.map((d) => d.files)), Object.assign({}, ...devs.map((d) => d.links)));
}

const noOpen = (): number => {
  throw new Error('open() must not be reached');
};

/** The real system calls, but this sysfs and this open(). */
const sysOf = (sysfs: SysfsReader, open: IvshmemSys['open'] = noOpen): IvshmemSys => ({ ...ivshmemSys, ...sysfs, open });

describe('sysfs listing', () => {
  it('parses resource lines, with unused slots as size 0', () => {
    const r = parseResources(resources(NONE, BAR2_4M));
    expect(r[0]!.size).toBe(256n);
    expect(r[1]!.size).toBe(0n);
    expect(r[2]).toEqual({ start: 0xfe000000n, end: 0xfe3fffffn, flags: 0x14220cn, size: 4n << 20n });
  });

  it('lists only 1af4:1110, with size, variant, driver and node', () => {
    const sys = sysOf(sysfsOf(
      device('0000:00:04.0', { driver: 'devmap_ivshmem', misc: 'ivshmem0' }),
      device('0000:00:05.0', { bar1: '0x00000000febf2000 0x00000000febf2fff 0x0000000000040200' }),
      device('0000:00:03.0', { device: '0x1000' })
    ));
    expect(listIvshmem(sys)).toEqual([
      { index: 0, address: '0000:00:04.0', size: 4 << 20, variant: 'plain', driver: 'devmap_ivshmem', node: '/dev/ivshmem0', sysfsPath: `${ROOT}/0000:00:04.0` },
      { index: 1, address: '0000:00:05.0', size: 4 << 20, variant: 'doorbell', driver: null, node: null, sysfsPath: `${ROOT}/0000:00:05.0` },
    ]);
  });

  it('is empty without a PCI bus', () => {
    expect(listIvshmem(sysOf(fakeSysfs({})))).toEqual([]);
  });
});

describe('Ivshmem.open errors (no device needed)', () => {
  const one = sysfsOf(device('0000:00:04.0'));
  const bound = sysfsOf(device('0000:00:04.0', { driver: 'devmap_ivshmem', misc: 'ivshmem0' }));
  const other = sysfsOf(device('0000:00:04.0', { driver: 'uio_pci_generic' }));
  const code = (fn: () => unknown): string | undefined => {
    try {
      fn();
    } catch (err) {
      return (err as { code?: string }).code;
    }
    return undefined;
  };

  it('says how to start QEMU when there is no device', () => {
    expect(() => openIvshmem({}, sysOf(fakeSysfs({})))).toThrow(NO_DEVICE);
    expect(NO_DEVICE).toMatch(/no ivshmem device found \(vendor 1af4 device 1110\); start QEMU with .*-device ivshmem-plain,memdev=/);
    expect(code(() => openIvshmem({}, sysOf(fakeSysfs({}))))).toBe('ERR_DEVMAP_NO_DEVICE');
  });

  it('checks options, naming them', () => {
    const sys = sysOf(one);
    expect(() => openIvshmem({ index: -1 }, sys)).toThrow(/index must be a non-negative integer/);
    expect(() => openIvshmem({ index: 1 }, sys)).toThrow(/index must be in \[0, 0\], got 1; found 0: 0000:00:04.0/);
    expect(() => openIvshmem({ address: 'zz' }, sys)).toThrow(TypeError);
    expect(() => openIvshmem({ address: '00:09.0' }, sys)).toThrow(/address 00:09.0 is not an ivshmem device/);
    expect(() => openIvshmem({ index: 0, address: '00:04.0' }, sys)).toThrow(/either index or address/);
    expect(() => openIvshmem({ cache: 'wt' as never }, sys)).toThrow(/cache must be one of 'uc', 'wc', 'wb'/);
    expect(() => openIvshmem({ via: 'pci' as never }, sys)).toThrow(/via must be/);
    expect(() => openIvshmem({ offset: 100 }, sys)).toThrow(/offset must be a multiple of the page size/);
    expect(() => openIvshmem({ offset: 8 << 20, via: 'sysfs', cache: 'uc' }, sys)).toThrow(/outside BAR2 of 0000:00:04.0/);
    expect(code(() => openIvshmem({ index: 1.5 }, sys))).toBe('ERR_OUT_OF_RANGE');
  });

  it('explains a missing module, an unsupported cache mode and a foreign driver', () => {
    expect(code(() => openIvshmem({ via: 'module' }, sysOf(one)))).toBe('ERR_DEVMAP_NO_MODULE');
    expect(() => openIvshmem({ via: 'module' }, sysOf(one))).toThrow(/insmod devmap_ivshmem.ko/);
    expect(code(() => openIvshmem({ cache: 'wb' }, sysOf(one)))).toBe('ERR_DEVMAP_CACHE_UNSUPPORTED');
    expect(code(() => openIvshmem({}, sysOf(other)))).toBe('ERR_DEVMAP_BUSY');
  });

  it('takes the module path when the node exists, and passes open() errors on as system errors', () => {
    const opened: string[] = [];
    const eacces = (p: string): number => {
      opened.push(p);
      throw Object.assign(new Error(`EACCES: permission denied, open '${p}'`), { code: 'EACCES', syscall: 'open', path: p, errno: -13 });
    };
    expect(code(() => openIvshmem({}, sysOf(bound, eacces)))).toBe('EACCES');
    expect(opened).toEqual(['/dev/ivshmem0']);
    expect(code(() => openIvshmem({ cache: 'wc' }, sysOf(one, eacces)))).toBe('EACCES');
    expect(opened[1]).toBe(`${ROOT}/0000:00:04.0/resource2_wc`);
  });

  it('ioctl numbers match the C header (_IOR/_IOW of magic 0xd7)', () => {
    expect(IOC.INFO).toBe(0x8020d700);
    expect(IOC.SET_CACHE).toBe(0x4004d701);
    expect(IOC.REG_READ).toBe(0xc008d702);
    expect(IOC.CANCEL).toBe(0xd706);
  });
});

/** The error a promise rejects with ('resolved' if none); fails if making it threw instead. */
function settled(make: () => Promise<unknown>): Promise<unknown> {
  let p: Promise<unknown>;
  try {
    p = make();
  } catch (err) {
    throw new Error(`threw synchronously instead of rejecting: ${String(err)}`);
  }
  return p.then(() => 'resolved', (err: unknown) => err);
}

describe('an Ivshmem over regular files (sysfs path, and the module path faked)', () => {
  /** resource2 (4 MiB, sparse) and resource0 (IVPosition 3) as files; open() reaches them by basename. */
  function sysfsFiles() {
    const dir = tempDir();
    const bar2 = join(dir, 'resource2');
    const bar0 = join(dir, 'resource0');
    writeFileSync(bar2, '');
    truncateSync(bar2, 4 << 20);
    const regs = Buffer.alloc(256);
    regs.writeUInt32LE(3, 8);
    writeFileSync(bar0, regs);
    const sys = sysOf(sysfsOf(device('0000:00:04.0')), (p, f) => openSync(join(dir, basename(p)), f));
    return { bar2, bar0, sys };
  }
  const mapped = (path: string) => countMaps(path, readFileSync('/proc/self/maps', 'utf8'));

  it('opens through sysfs and reads IVPosition from resource0, which it unmaps', () => {
    const { bar2, bar0, sys } = sysfsFiles();
    const shm = openIvshmem({ via: 'sysfs' }, sys);
    expect([shm.path, shm.ivPosition, shm.memory.length]).toEqual(['sysfs', 3, 4 << 20]);
    expect([mapped(bar2), mapped(bar0)]).toEqual([1, 0]);
    shm.close();
    expect(mapped(bar2)).toBe(0);
  });

  it('a failing register read leaves neither BAR mapped', () => {
    const { bar2, bar0, sys } = sysfsFiles();
    const read32 = vi.spyOn(Mapping.prototype, 'read32').mockImplementationOnce(() => {
      throw new Error('injected read32 failure');
    });
    try {
      expect(() => openIvshmem({ via: 'sysfs' }, sys)).toThrow('injected read32 failure');
    } finally {
      read32.mockRestore();
    }
    expect([mapped(bar2), mapped(bar0)]).toEqual([0, 0]);
  });

  it('waitForInterrupt rejects (never throws) without the module and after close(), in both forms', async () => {
    const shm = openIvshmem({ via: 'sysfs' }, sysfsFiles().sys);
    expect(await settled(() => shm.waitForInterrupt())).toMatchObject({ code: 'ERR_DEVMAP_NO_MODULE' });
    expect(await settled(() => shm.waitForInterrupt({ vector: 0, timeoutMs: 10 }))).toMatchObject({ code: 'ERR_DEVMAP_NO_MODULE' });
    shm.close();
    expect(await settled(() => shm.waitForInterrupt())).toMatchObject({ code: 'ERR_DEVMAP_CLOSED' });
    expect(await settled(() => shm.waitForInterrupt({ vector: 0 }))).toMatchObject({ code: 'ERR_DEVMAP_CLOSED' });
  });

  it('register and doorbell ioctl errors carry the node as path', () => {
    // A regular file where the module's node would be: every ioctl on it is ENOTTY.
    const { bar2 } = sysfsFiles();
    const node = '/dev/ivshmem0';
    const dev = { index: 0, address: '0000:00:04.0', size: 4 << 20, variant: 'doorbell' as const, driver: 'devmap_ivshmem', node, sysfsPath: `${ROOT}/0000:00:04.0` };
    const shm = new Ivshmem({ path: 'module', device: dev, memory: mapFile(bar2), cache: 'wb', grantedCache: 'wb', ivPosition: 0, vectors: 1, fd: openSync(bar2, 'r+'), sys: ivshmemSys });
    const enotty = expect.objectContaining({ code: 'ENOTTY', syscall: 'ioctl', path: node, message: expect.stringMatching(/'\/dev\/ivshmem0'$/) });
    expect(() => shm.readRegister('intrmask')).toThrow(enotty);
    expect(() => shm.writeRegister('doorbell', 1)).toThrow(enotty);
    expect(() => shm.ring(1, 0)).toThrow(enotty);
    shm.close();
  });
});

describe.skipIf(!shm)('openHostFile (needs /dev/shm)', () => {
  it('maps the backing file and shares bytes with it', () => {
    const file = join(tempDir(shm), 'ivshmem');
    const h = openHostFile(file, { create: true, size: 1 << 20 });
    expect(statSync(file).size).toBe(1 << 20);
    expect(h.size).toBe(1 << 20);
    h.memory.bytes.set(Buffer.from('HOST'), 0);
    h.close();
    h.close();
    const again = openHostFile(file, { size: 1 << 20 });
    expect(Buffer.from(again.memory.bytes.subarray(0, 4)).toString()).toBe('HOST');
    again.close();
  });

  it('Symbol.dispose unmaps like close(), idempotently', () => {
    const file = join(tempDir(shm), 'ivshmem');
    const h = openHostFile(file, { create: true, size: 1 << 16 });
    expect(countMaps(file, readFileSync('/proc/self/maps', 'utf8'))).toBe(1);
    h[Symbol.dispose]();
    expect(h.memory.closed).toBe(true);
    expect(countMaps(file, readFileSync('/proc/self/maps', 'utf8'))).toBe(0);
    expect(() => h[Symbol.dispose]()).not.toThrow();
  });

  it('refuses sizes QEMU and the guest would not agree on', () => {
    const dir = tempDir(shm);
    const odd = join(dir, 'odd');
    writeFileSync(odd, new Uint8Array(3 * 4096));
    expect(() => openHostFile(odd)).toThrow(/12288 bytes, not a power of two/);
    const small = join(dir, 'small');
    truncateSync((writeFileSync(small, ''), small), 1 << 20);
    expect(() => openHostFile(small, { size: 4 << 20 })).toThrow(/is 1048576 bytes but 4194304 were expected/);
    expect(() => openHostFile(join(dir, 'empty'), { create: true, size: 3 })).toThrow(/size must be a power of two/);
    writeFileSync(join(dir, 'zero'), '');
    expect(() => openHostFile(join(dir, 'zero'))).toThrow(/is empty; start QEMU first/);
    expect(() => openHostFile(join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => openHostFile(dir)).toThrow(expect.objectContaining({ code: 'EISDIR' }));
    expect(() => openHostFile('')).toThrow(/^file must be a non-empty string$/);
  });
});

describe('devmap ivshmem CLI', () => {
  const cli = join(process.cwd(), 'dist', 'cli.js');
  const run = (...a: string[]) => spawnSync(process.execPath, [cli, 'ivshmem', ...a], { encoding: 'utf8', timeout: 60_000 });

  it('--help lists the subcommands with examples', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    for (const c of ['list', 'info', 'read <offset> <length>', 'write <offset> [string]', 'dump [offset] [length]', 'hexdump']) {
      expect(r.stdout).toContain(`devmap ivshmem ${c}`);
    }
    expect(r.stdout).toMatch(/Examples:[\s\S]*devmap ivshmem write 0x1000 "hello host"/);
  });

  it('write needs exactly one of STRING and --file', () => {
    const r = run('write', '0');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/either STRING or --file/);
  });
});
