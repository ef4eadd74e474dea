// eventfd(2) counters. The fd comes from the addon; its 8-byte counter is
// read and written with node:fs, which is all the kernel asks for.
import { readSync, writeSync } from 'node:fs';

import { native } from '../native.js';
import { isSystemError } from '../errors.js';

const C = native.constants;

/** A non-blocking, close-on-exec eventfd (what QEMU's ivshmem server hands out). */
export function eventfd(initval = 0): number {
  return native.eventfd(initval, C.EFD_NONBLOCK | C.EFD_CLOEXEC);
}

/** Adds `n` to the counter: wakes whoever polls or reads the fd. */
export function eventfdSignal(fd: number, n = 1n): void {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64LE(n);
  writeSync(fd, buf, 0, 8);
}

/** Reads and resets the counter of a non-blocking eventfd: 0n when it was 0 (EAGAIN). */
export function eventfdDrain(fd: number): bigint {
  const buf = Buffer.alloc(8);
  try {
    return readSync(fd, buf, 0, 8, null) === 8 ? buf.readBigUInt64LE(0) : 0n;
  } catch (err) {
    if (isSystemError(err, 'EAGAIN')) return 0n;
    throw err;
  }
}
