// memfd_create(2): anonymous shared memory with a file descriptor.
import { closeSync, ftruncateSync } from 'node:fs';

import { native } from '../native.js';
import { toU64, typeError } from '../errors.js';

/**
 * Creates a memfd of `size` bytes and returns its fd (close it with
 * fs.closeSync). Map it with mapFd(fd, ...) or mapFile(`/proc/self/fd/${fd}`).
 */
export function memfd(name: string, size: number | bigint = 0, { cloexec = true }: { cloexec?: boolean } = {}): number {
  if (typeof name !== 'string' || name.length === 0 || name.length > 249) {
    throw typeError('name must be a string of 1 to 249 characters');
  }
  const bytes = toU64(size, 'size');
  const fd = native.memfdCreate(name, cloexec ? native.constants.MFD_CLOEXEC : 0);
  try {
    if (bytes > 0n) ftruncateSync(fd, Number(bytes));
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}
