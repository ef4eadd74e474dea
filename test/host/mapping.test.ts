import { closeSync, ftruncateSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { mapFd, mapFile, memfd, PAGE_SIZE, readMaps, findVma } from '../../lib/index.js';
import { readMapsWith } from '../../lib/maps.js';
import { countMaps, tempDir, tempFile } from '../helpers/tmp.js';

describe('mapFile on a regular file', () => {
  it('maps the whole file by default and shares writes both ways with the file', () => {
    const path = tempFile(Uint8Array.from({ length: 3 * PAGE_SIZE }, (_, i) => i & 0xff));
    const m = mapFile(path);
    expect(m.length).toBe(3 * PAGE_SIZE);
    expect(m.offset).toBe(0n);
    expect(m.path).toBe(path);
    expect(m.closed).toBe(false);
    expect(m.bytes[5]).toBe(5);
    expect(m.bytes[PAGE_SIZE + 1]).toBe(1);
    // mapping -> file
    m.bytes.set([0xaa, 0xbb, 0xcc], 100);
    m.sync();
    expect([...readFileSync(path).subarray(100, 103)]).toEqual([0xaa, 0xbb, 0xcc]);
    // file -> mapping
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from('hello'), 0, 5, 2 * PAGE_SIZE);
    closeSync(fd);
    expect(Buffer.from(m.bytes.subarray(2 * PAGE_SIZE, 2 * PAGE_SIZE + 5)).toString()).toBe('hello');
    m.unmap();
  });

  it('maps a page-aligned window given offset and length', () => {
    const path = tempFile(Uint8Array.from({ length: 4 * PAGE_SIZE }, (_, i) => (i / PAGE_SIZE) | 0));
    const m = mapFile(path, { offset: 2 * PAGE_SIZE, length: PAGE_SIZE });
    expect(m.length).toBe(PAGE_SIZE);
    expect(m.offset).toBe(BigInt(2 * PAGE_SIZE));
    expect(m.bytes.every((b) => b === 2)).toBe(true);
    m.unmap();
  });

  it('rounds nothing: a length that is not a page multiple is honoured exactly', () => {
    const path = tempFile(PAGE_SIZE * 2);
    const m = mapFile(path, { length: 100 });
    expect(m.length).toBe(100);
    expect(m.bytes.length).toBe(100);
    m.unmap();
  });

  it('two mappings of the same file see each other\'s writes', () => {
    const path = tempFile(PAGE_SIZE);
    const a = mapFile(path);
    const b = mapFile(path);
    expect(a.address).not.toBe(b.address);
    a.write32(8, 0x12345678);
    expect(b.read32(8)).toBe(0x12345678);
    b.bytes[0] = 7;
    expect(a.bytes[0]).toBe(7);
    a.unmap();
    b.unmap();
  });

  it('maps read-only with write: false', () => {
    const path = tempFile(Uint8Array.of(1, 2, 3, 4));
    const m = mapFile(path, { write: false });
    expect(m.writable).toBe(false);
    expect(m.read32(0)).toBe(0x04030201);
    expect(() => m.write8(0, 1)).toThrow(expect.objectContaining({ code: 'ERR_DEVMAP_READ_ONLY' }));
    const vma = findVma(readMaps(), m.address);
    expect(vma?.perms).toBe('r--s');
    m.unmap();
  });
});

describe('other kinds of file', () => {
  it('maps a /dev/shm file', () => {
    const path = tempFile(PAGE_SIZE, '/dev/shm');
    const m = mapFile(path);
    m.bytes.fill(0x5a);
    expect(readFileSync(path).every((b) => b === 0x5a)).toBe(true);
    const vma = findVma(readMaps(), m.address);
    expect(vma).toMatchObject({ perms: 'rw-s', path });
    m.unmap();
  });

  it('maps a memfd by fd and by /proc/self/fd path, sharing the same pages', () => {
    const fd = memfd('devmap-test', 2 * PAGE_SIZE);
    try {
      const byFd = mapFd(fd, 'memfd');
      const byPath = mapFile(`/proc/self/fd/${fd}`);
      byFd.write64(PAGE_SIZE, 0x0102030405060708n);
      expect(byPath.read64(PAGE_SIZE)).toBe(0x0102030405060708n);
      const vma = findVma(readMaps(), byFd.address);
      expect(vma?.path).toMatch(/^\/memfd:devmap-test/);
      expect(vma?.perms).toBe('rw-s');
      byFd.unmap();
      byPath.unmap();
    } finally {
      closeSync(fd);
    }
  });

  it('memfd closes its fd when sizing fails', () => {
    const fds = () => readdirSync('/proc/self/fd').map((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`); } catch { return ''; } });
    // Node's ftruncateSync takes at most 2^53 - 1: a bigint above that fails after memfd_create
    expect(() => memfd('devmap-leak', 1n << 60n)).toThrow(RangeError);
    expect(fds().filter((l) => l.startsWith('/memfd:devmap-leak'))).toEqual([]);
  });

  it('maps a character device (/dev/zero) when given a length', () => {
    const m = mapFile('/dev/zero', { length: PAGE_SIZE });
    expect(m.bytes.length).toBe(PAGE_SIZE);
    expect(m.read64(PAGE_SIZE - 8)).toBe(0n);
    m.unmap();
  });

  it('maps a sparse file larger than 2 GiB at an offset above 2 GiB (number and bigint)', () => {
    const path = join(tempDir(), 'sparse.bin');
    const big = 5 * 2 ** 30; // 5 GiB, sparse
    const fd = openSync(path, 'w+');
    ftruncateSync(fd, big);
    writeSync(fd, Buffer.from('far away'), 0, 8, 3 * 2 ** 30 + 16);
    closeSync(fd);
    const a = mapFile(path, { offset: 3 * 2 ** 30, length: PAGE_SIZE });
    expect(Buffer.from(a.bytes.subarray(16, 24)).toString()).toBe('far away');
    const b = mapFile(path, { offset: 3n * 2n ** 30n, length: 8192n });
    expect(b.offset).toBe(3n * 2n ** 30n);
    b.bytes.set(Buffer.from('written'), 100);
    b.sync();
    const back = Buffer.alloc(7);
    const rfd = openSync(path, 'r');
    readSync(rfd, back, 0, 7, 3 * 2 ** 30 + 100);
    closeSync(rfd);
    expect(back.toString()).toBe('written');
    const vma = findVma(readMaps(), a.address);
    expect(vma?.offset).toBe(3n * 2n ** 30n);
    a.unmap();
    b.unmap();
  });
});

describe('register accessors', () => {
  it('do single loads and stores of each width, little-endian', () => {
    const path = tempFile(PAGE_SIZE);
    const m = mapFile(path);
    m.write8(1, 0xff);
    m.write16(2, 0xbeef);
    m.write32(4, 0xdeadbeef);
    m.write64(8, 0xfedcba9876543210n);
    expect(m.read8(1)).toBe(0xff);
    expect(m.read16(2)).toBe(0xbeef);
    expect(m.read32(4)).toBe(0xdeadbeef);
    expect(m.read64(8)).toBe(0xfedcba9876543210n);
    expect([...readFileSync(path).subarray(0, 8)]).toEqual([0, 0xff, 0xef, 0xbe, 0xef, 0xbe, 0xad, 0xde]);
    expect(m.read32(PAGE_SIZE - 4)).toBe(0);
    m.unmap();
  });

  it('reject misaligned, out-of-range and non-integer offsets and values', () => {
    const m = mapFile(tempFile(PAGE_SIZE));
    expect(() => m.read32(2)).toThrow(/multiple of 4/);
    expect(() => m.read16(1)).toThrow(RangeError);
    expect(() => m.read64(4)).toThrow(/multiple of 8/);
    expect(() => m.read32(PAGE_SIZE)).toThrow(RangeError);
    expect(() => m.read8(-1)).toThrow(RangeError);
    expect(() => m.read8(0.5)).toThrow(RangeError);
    expect(() => m.read8('0' as unknown as number)).toThrow(TypeError);
    expect(() => m.write8(0, 256)).toThrow(/\[0, 255\]/);
    expect(() => m.write32(0, -1)).toThrow(RangeError);
    expect(() => m.write64(0, 1 as unknown as bigint)).toThrow(RangeError);
    expect(() => m.write64(0, 1n << 64n)).toThrow(RangeError);
    m.unmap();
  });
});

describe('sync and advise', () => {
  it('msync a sub-range that does not start on a page and madvise each kind', () => {
    const path = tempFile(3 * PAGE_SIZE);
    const m = mapFile(path);
    m.bytes[PAGE_SIZE + 10] = 9;
    m.sync(PAGE_SIZE + 10, 1);
    m.sync(0, undefined, { async: true });
    for (const kind of ['normal', 'random', 'sequential', 'willneed'] as const) m.advise(kind);
    m.advise('dontneed', PAGE_SIZE, PAGE_SIZE);
    expect(readFileSync(path)[PAGE_SIZE + 10]).toBe(9);
    expect(() => m.advise('bogus' as 'normal')).toThrow(/advice must be one of/);
    expect(() => m.sync(0, 4 * PAGE_SIZE)).toThrow(RangeError);
    m.unmap();
  });
});

describe('readMaps', () => {
  it('finds the mapping with rw-s, the path, offset and VmFlags', () => {
    const path = tempFile(2 * PAGE_SIZE);
    const m = mapFile(path, { offset: PAGE_SIZE });
    const vmas = readMaps();
    const vma = findVma(vmas, m.address);
    expect(vma).toBeDefined();
    expect(vma!.start).toBe(m.address);
    expect(vma!.end - vma!.start).toBe(BigInt(PAGE_SIZE));
    expect(vma!.perms).toBe('rw-s');
    expect(vma!.path).toBe(path);
    expect(vma!.offset).toBe(BigInt(PAGE_SIZE));
    expect(vma!.vmFlags).toEqual(expect.arrayContaining(['rd', 'wr', 'sh']));
    expect(vma!.device).toMatch(/^[0-9a-f]+:[0-9a-f]+$/);
    expect(vma!.inode).toBeGreaterThan(0);
    expect(countMaps(path, readFileSync('/proc/self/maps', 'utf8'))).toBe(1);
    m.unmap();
    expect(findVma(readMaps(), vma!.start)?.path).not.toBe(path);
  });

  it('reads another process by pid and rejects a bad pid', () => {
    const vmas = readMaps(process.pid);
    expect(vmas.some((v) => v.path === '[stack]')).toBe(true);
    expect(() => readMaps(-1)).toThrow(RangeError);
    expect(() => readMaps(0)).toThrow(RangeError);
  });

  it('falls back to /proc/PID/maps when smaps is unreadable', () => {
    const maps = '00400000-0040b000 r-xp 00000000 08:08 884809   /bin/cat\n7f00-7f01 rw-s 00001000 00:05 77808 /dev/ivshmem0\n';
    const vmas = readMapsWith('self', (p) => {
      if (p.endsWith('smaps')) throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
      return maps;
    });
    expect(vmas).toHaveLength(2);
    expect(vmas[1]).toMatchObject({ start: 0x7f00n, end: 0x7f01n, perms: 'rw-s', offset: 0x1000n, path: '/dev/ivshmem0', vmFlags: [] });
  });
});

describe('write the file and read the mapping', () => {
  it('sees a write made with fs.writeFileSync on a fresh mapping', () => {
    const path = tempFile(PAGE_SIZE);
    writeFileSync(path, Buffer.alloc(PAGE_SIZE, 0x33));
    const m = mapFile(path);
    expect(m.bytes.every((b) => b === 0x33)).toBe(true);
    m.unmap();
  });
});
