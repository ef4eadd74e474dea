// Host side of ivshmem: the file QEMU's memory-backend-file shares as BAR2.
import { closeSync, constants as fsc, fstatSync, ftruncateSync, openSync, type Stats } from 'node:fs';

import { mapFd, type Mapping } from './mapping.js';
import { devmapError, rangeError, typeError } from './errors.js';

export interface HostFileOptions {
  /** Size the guest's BAR2 has (QEMU's size=); the file must match it exactly. */
  size?: number;
  /** Create the file (and size it to `size`) when it does not exist or is empty. Default false. */
  create?: boolean;
}

/** The host backing file of an ivshmem device, mapped MAP_SHARED. */
export interface IvshmemHostFile {
  readonly file: string;
  readonly size: number;
  readonly memory: Mapping;
  /** Unmaps `memory`. Idempotent. */
  close(): void;
  /** Same as close(), for `using`. */
  [Symbol.dispose](): void;
}

// log2 of a power of two is exact in binary floating point, also past 2^31.
const isPow2 = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n > 0 && Number.isInteger(Math.log2(n));

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

/**
 * Maps the host backing file of an ivshmem device (e.g. /dev/shm/NAME).
 * `fstat` is injectable so size errors are testable without big files.
 */
export function openHostFile(file: string, options: HostFileOptions = {}, fstat: (fd: number) => Stats = fstatSync): IvshmemHostFile {
  if (typeof file !== 'string' || file.length === 0) throw typeError('file must be a non-empty string');
  if (options === null || typeof options !== 'object') throw typeError('options must be an object');
  const { size, create = false } = options;
  if (size !== undefined && !isPow2(size)) throw rangeError(`size must be a power of two (QEMU requires it), got ${String(size)}`);
  if (typeof create !== 'boolean') throw typeError(`create must be a boolean, got ${typeof create}`);
  if (create && size === undefined) throw typeError('create: true needs size');
  const fd = openSync(file, fsc.O_RDWR | (create ? fsc.O_CREAT : 0), 0o600);
  try {
    let stat = fstat(fd);
    if (create && stat.isFile() && stat.size === 0) {
      ftruncateSync(fd, size!);
      stat = fstat(fd);
    }
    const n = checkHostSize(file, stat, size);
    const memory = mapFd(fd, file, { length: n }, stat);
    const close = (): void => memory.unmap();
    return { file, size: n, memory, close, [Symbol.dispose]: close };
  } finally {
    closeSync(fd);
  }
}
