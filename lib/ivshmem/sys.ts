// The system calls of ivshmem, guest side (sysfs, the module's node) and
// host side (the backing file), in one table. The public API always uses
// ivshmemSys; the internal openIvshmem/listIvshmem/openHostFileWith take
// another, so tests reach every error path without a device.
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, read, readdirSync, readFileSync, readlinkSync, type Stats } from 'node:fs';

import { native } from '../native.js';
import type { SysfsReader } from './pci.js';

export interface IvshmemSys extends SysfsReader {
  open(path: string, flags: number, mode?: number): number;
  close(fd: number): void;
  fstat(fd: number): Stats;
  ftruncate(fd: number, length: number): void;
  ioctl(fd: number, request: number, arg?: Uint8Array): number;
  /** A blocking read(2) on libuv's thread pool; resolves with the bytes read. */
  read(fd: number, buf: Uint8Array): Promise<number>;
}

export const ivshmemSys: IvshmemSys = {
  readdir: (p) => readdirSync(p),
  readFile: (p) => readFileSync(p, 'utf8'),
  readlink: (p) => {
    try {
      return readlinkSync(p);
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return undefined;
      throw err;
    }
  },
  exists: (p) => existsSync(p),
  open: (p, flags, mode) => openSync(p, flags, mode),
  close: closeSync,
  fstat: (fd) => fstatSync(fd),
  ftruncate: (fd, length) => ftruncateSync(fd, length),
  ioctl: native.ioctl,
  read: (fd, buf) =>
    new Promise((resolve, reject) => {
      read(fd, buf, 0, buf.length, null, (err, n) => (err ? reject(err) : resolve(n)));
    }),
};
