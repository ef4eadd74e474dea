// The system calls of a Drm, in one table: the public API always uses
// drmSys; the internal openDrm takes another, so tests fake the driver and
// reach the error paths without a device.
import { closeSync, constants, openSync, readFileSync, readSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';

import { type Mapping } from '../mapping.js';
import { mapFd } from '../map.js';
import { native, type FdWatcher } from '../native.js';

export interface DrmSys {
  open(path: string): number;
  close(fd: number): void;
  ioctl(fd: number, request: number, arg?: Uint8Array | number): number;
  /** Where an ArrayBuffer's bytes are in this process (the user pointers inside DRM structs). */
  address(buffer: ArrayBuffer): bigint;
  /** mmap(2) of the DRM fd at a dumb buffer's fake offset (DRM_IOCTL_MODE_MAP_DUMB). */
  map(fd: number, path: string, window: { offset: bigint; length: bigint }): Mapping;
  /** One non-blocking read(2) of queued events; 0 bytes when none are queued. */
  read(fd: number, into: Uint8Array): number;
  /** Calls `onReadable` from the event loop while the fd is readable (and started). */
  watch(fd: number, onReadable: (status: number) => void): FdWatcher;
  /** The kernel driver's name for a card (bochs-drm, virtio_gpu), if sysfs tells. */
  driver(path: string): string | undefined;
  /** Text of a debugfs file of the card (the clients list), if debugfs is mounted and readable. */
  debugfs(path: string, file: string): string | undefined;
}

/** /dev/dri/card0 -> card0's minor number as debugfs names its folder. */
function minorOf(path: string): string | undefined {
  try {
    return readFileSync(`/sys/class/drm/${basename(path)}/dev`, 'utf8').trim().split(':')[1];
  } catch {
    return undefined;
  }
}

export const drmSys: DrmSys = {
  // O_NONBLOCK: read() of the event queue returns EAGAIN rather than waiting
  // (libuv adds O_CLOEXEC itself).
  open: (p) => openSync(p, constants.O_RDWR | constants.O_NONBLOCK),
  close: closeSync,
  ioctl: native.ioctl,
  address: native.address,
  map: (fd, path, window) => mapFd(fd, path, window),
  read: (fd, into) => {
    try {
      return readSync(fd, into, 0, into.length, null);
    } catch (err) {
      if ((err as { code?: string }).code === 'EAGAIN') return 0;
      throw err;
    }
  },
  watch: (fd, onReadable) => new native.FdWatcher(fd, (status) => onReadable(status)),
  driver: (path) => {
    try {
      return basename(readlinkSync(`/sys/class/drm/${basename(path)}/device/driver`));
    } catch {
      return undefined;
    }
  },
  debugfs: (path, file) => {
    const minor = minorOf(path);
    if (minor === undefined) return undefined;
    try {
      return readFileSync(`/sys/kernel/debug/dri/${minor}/${file}`, 'utf8');
    } catch {
      return undefined;
    }
  },
};
