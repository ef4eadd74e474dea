// The host's view of ivshmem: the file QEMU's memory-backend-file shares as
// BAR2, mapped MAP_SHARED (its size rules are in host-file.ts).
import { constants as fsc } from 'node:fs';

import { type Mapping } from '../mapping.js';
import { mapFdWith } from '../map.js';
import { typeError } from '../errors.js';
import { checkHostSize, checkPow2 } from './host-file.js';
import { ivshmemSys, type IvshmemSys } from './sys.js';

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

/** Maps the host backing file of an ivshmem device (e.g. /dev/shm/NAME). */
export function openHostFile(file: string, options: HostFileOptions = {}): IvshmemHostFile {
  return openHostFileWith(file, options);
}

/** openHostFile() through `sys` (internal: a faked fstat reaches the size errors without big files). */
export function openHostFileWith(file: string, options: HostFileOptions, sys: IvshmemSys = ivshmemSys): IvshmemHostFile {
  if (typeof file !== 'string' || file.length === 0) throw typeError('file must be a non-empty string');
  if (options === null || typeof options !== 'object') throw typeError('options must be an object');
  const { size, create = false } = options;
  if (size !== undefined) checkPow2(size, 'size');
  if (typeof create !== 'boolean') throw typeError(`create must be a boolean, got ${typeof create}`);
  if (create && size === undefined) throw typeError('create: true needs size');
  const fd = sys.open(file, fsc.O_RDWR | (create ? fsc.O_CREAT : 0), 0o600);
  try {
    let stat = sys.fstat(fd);
    if (create && stat.isFile() && stat.size === 0) {
      sys.ftruncate(fd, size!);
      stat = sys.fstat(fd);
    }
    const n = checkHostSize(file, stat, size);
    const memory = mapFdWith(fd, file, { length: n }, stat);
    const close = (): void => memory.unmap();
    return { file, size: n, memory, close, [Symbol.dispose]: close };
  } finally {
    sys.close(fd);
  }
}
