// The system calls of an Edu, in one table: the public API always uses
// eduSys; the internal openEdu takes another, so tests fake the driver and
// reach the error paths without a device.
import { closeSync, openSync, write } from 'node:fs';

import { type Mapping } from '../mapping.js';
import { mapFd } from '../map.js';
import { native } from '../native.js';

export interface EduSys {
  open(path: string): number;
  close(fd: number): void;
  ioctl(fd: number, request: number, arg?: Uint8Array | number): number;
  /** mmap(2) of one DMA buffer: its offset is the cookie EDU_IOC_ALLOC returned. */
  map(fd: number, path: string, window: { offset: bigint; length: bigint }): Mapping;
  /** write(2) on libuv's thread pool: the driver runs one transfer per write. */
  write(fd: number, data: Uint8Array): Promise<void>;
}

export const eduSys: EduSys = {
  open: (p) => openSync(p, 'r+'),
  close: closeSync,
  ioctl: native.ioctl,
  map: (fd, path, window) => mapFd(fd, path, window),
  write: (fd, data) =>
    new Promise((resolve, reject) => {
      write(fd, data, 0, data.length, null, (err) => (err ? reject(err) : resolve()));
    }),
};
