// The host's view of ivshmem: the file QEMU's memory-backend-file shares as
// BAR2, mapped MAP_SHARED (its size rules are in host-file.ts).
import { closeSync, constants as fsc, fstatSync, ftruncateSync, openSync, type Stats } from 'node:fs';

import { mapFd, type Mapping } from '../mapping.js';
import { typeError } from '../errors.js';
import { checkHostSize, checkPow2 } from './host-file.js';

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

/**
 * Maps the host backing file of an ivshmem device (e.g. /dev/shm/NAME).
 * `fstat` is injectable so size errors are testable without big files.
 */
export function openHostFile(file: string, options: HostFileOptions = {}, fstat: (fd: number) => Stats = fstatSync): IvshmemHostFile {
  if (typeof file !== 'string' || file.length === 0) throw typeError('file must be a non-empty string');
  if (options === null || typeof options !== 'object') throw typeError('options must be an object');
  const { size, create = false } = options;
  if (size !== undefined) checkPow2(size, 'size');
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
