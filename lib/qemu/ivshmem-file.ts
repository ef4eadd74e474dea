// The host file behind the guest's ivshmem BAR: a user's file (created at
// the asked size if missing, kept afterwards) or a fresh, uniquely named
// /dev/shm file that is removed with the guest.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, ftruncateSync, openSync, rmSync, statSync } from 'node:fs';

import { rangeError } from '../errors.js';

export interface IvshmemFile {
  path: string;
  size: number;
  remove(): void;
}

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** Parses "4M", "64k", "1G", "4096" into bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+)([kKmMgG]?)$/.exec(text.trim());
  if (!m) throw rangeError(`size must be bytes or a number with k/M/G, like 4M, got "${text}"`);
  const mult = { '': 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * mult;
}

export function resolveIvshmem(spec: { path: string; size?: number } | undefined, defaultSize: number): IvshmemFile {
  const keep = spec !== undefined;
  const path = spec?.path ?? `/dev/shm/devmap-${process.pid}-${randomBytes(4).toString('hex')}`;
  const size = spec?.size ?? (existsSync(path) ? statSync(path).size : defaultSize);
  if (!isPow2(size)) throw rangeError(`ivshmem size must be a power of two (QEMU aborts otherwise), got ${size} bytes for ${path}`);
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
