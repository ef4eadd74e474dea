// The host file behind an ivshmem BAR (QEMU's memory-backend-file
// mem-path=): the size rules QEMU and the guest impose, and the file the
// harness hands a guest. No mapping here: the harness uses this module and
// must not load the addon (the mapping side is host.ts).
import { closeSync, existsSync, ftruncateSync, openSync, rmSync, statSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';

import { devmapError, rangeError } from '../errors.js';

// log2 of a power of two is exact in binary floating point, also past 2^31
// (a 32-bit `n & (n - 1)` would take 6 GiB for one).
export const isPow2 = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n > 0 && Number.isInteger(Math.log2(n));

/** Throws unless `size` is a power of two, as QEMU's ivshmem requires (it aborts otherwise). */
export function checkPow2(size: unknown, what: string): number {
  if (!isPow2(size)) throw rangeError(`${what} must be a power of two (QEMU's ivshmem requires it), got ${String(size)}`);
  return size;
}

/** Checks the backing file's size against what QEMU and the guest require. */
export function checkHostSize(file: string, stat: Pick<Stats, 'size' | 'isFile'>, want?: number): number {
  if (!stat.isFile()) throw devmapError('ERR_DEVMAP_NOT_A_FILE', `${file} is not a regular file; pass the mem-path= of QEMU's memory-backend-file`);
  const size = stat.size;
  if (size === 0) {
    throw devmapError('ERR_DEVMAP_BAD_SIZE', `${file} is empty; start QEMU first (it sizes the file) or open with { create: true, size }`);
  }
  if (!isPow2(size)) {
    throw devmapError('ERR_DEVMAP_BAD_SIZE', `${file} is ${size} bytes, not a power of two; QEMU's ivshmem needs a power-of-two size=`);
  }
  if (want !== undefined && size !== want) {
    throw devmapError(
      'ERR_DEVMAP_SIZE_MISMATCH',
      `${file} is ${size} bytes but ${want} were expected; the host file and the guest's BAR2 (QEMU size=) must agree`
    );
  }
  return size;
}

/** A backing file prepared for a guest. */
export interface IvshmemFile {
  path: string;
  size: number;
  /** Removes the file if it was made for this guest; a user's file is kept. */
  remove(): void;
}

/** 8 random hex digits; node:crypto is loaded here, not at devmap's import (it costs a tenth of that). */
const randomName = (): string => (createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto')).randomBytes(4).toString('hex');

/**
 * The backing file for a guest's ivshmem device: the user's file (grown to
 * `size` if smaller, kept afterwards), or a fresh, uniquely named /dev/shm
 * file that `remove()` deletes.
 */
export function prepareHostFile(spec: { path: string; size?: number } | undefined, defaultSize: number): IvshmemFile {
  const keep = spec !== undefined;
  const path = spec?.path ?? `/dev/shm/devmap-${process.pid}-${randomName()}`;
  const size = checkPow2(spec?.size ?? (existsSync(path) ? statSync(path).size : defaultSize), `ivshmem size for ${path}`);
  if (!existsSync(path) || statSync(path).size < size) {
    const fd = openSync(path, 'a');
    try {
      ftruncateSync(fd, size);
    } finally {
      closeSync(fd);
    }
  }
  return { path, size, remove: () => (keep ? undefined : rmSync(path, { force: true })) };
}
