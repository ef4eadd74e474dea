// The addon's raw entry points that take an ArrayBufferView: every kind of
// view reaches the kernel at its byteOffset, and anything else is refused
// rather than passed on as NULL.
import { closeSync, openSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { native } from '../../lib/native.js';
import { tempDir, tempFile } from '../helpers/tmp.js';

// FIONREAD on a regular file stores (file size - position) as an int through
// the pointer. 0x541b is its number on x86 and arm (asm-generic/ioctls.h).
const FIONREAD = 0x541b;

function withFile<T>(size: number, fn: (fd: number) => T): T {
  const fd = openSync(tempFile(size), 'r');
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

describe('native.ioctl argument', () => {
  it('writes through a DataView, at its byteOffset', () => {
    const bytes = new Uint8Array(16).fill(0xee);
    withFile(1234, (fd) => native.ioctl(fd, FIONREAD, new DataView(bytes.buffer, 4, 4)));
    const v = new DataView(bytes.buffer);
    expect(v.getInt32(4, true)).toBe(1234);
    expect([...bytes.subarray(0, 4), ...bytes.subarray(8)]).toEqual(new Array(12).fill(0xee));
  });

  it('writes through any TypedArray, at its byteOffset', () => {
    const words = new Uint32Array(4);
    withFile(4321, (fd) => native.ioctl(fd, FIONREAD, words.subarray(2, 3)));
    expect([...words]).toEqual([0, 0, 4321, 0]);
  });

  it('refuses a view smaller than the request says, and an argument that is no view or number', () => {
    withFile(1, (fd) => {
      const sized = (0x2 << 30) | (8 << 16) | (0xd7 << 8); // _IOR(0xd7, 0, 8 bytes)
      expect(() => native.ioctl(fd, sized, new DataView(new ArrayBuffer(8), 4))).toThrow(RangeError);
      for (const bad of [new ArrayBuffer(4), 'x', 1n, null, {}]) {
        expect(() => native.ioctl(fd, FIONREAD, bad as unknown as number)).toThrow(/^ioctl: arg must be an ArrayBufferView, a number or undefined/);
      }
    });
  });
});

describe('native.sendFds data', () => {
  it('sends the bytes a DataView covers, from its byteOffset', async () => {
    const path = join(tempDir(), 's.sock');
    let server: Server | undefined;
    const received = new Promise<Buffer>((resolve) => {
      server = createServer((s) => s.once('data', (d: Buffer) => (resolve(d), s.destroy())));
    });
    await new Promise<void>((resolve) => server!.listen(path, resolve));
    const fd = native.unixConnect(path);
    try {
      const data = Uint8Array.of(9, 9, 1, 2, 3, 9);
      expect(native.sendFds(fd, new DataView(data.buffer, 2, 3), [])).toBe(3);
      expect([...(await received)]).toEqual([1, 2, 3]);
    } finally {
      closeSync(fd);
      server!.close();
    }
  });
});
