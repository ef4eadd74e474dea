// qemu/guest.lock.json: the Debian packages each guest arch is pinned to.
// Only `devmap guest lock --update` writes it (updateLock in debian.ts);
// a run reads it and nothing else, the way npm ci reads package-lock.json.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { packageRoot } from '../../paths.js';
import type { GuestArch } from '../machines/machines.js';

export interface GuestPackages {
  /** Kernel ABI, e.g. "6.1.0-50-amd64". */
  abi: string;
  /** Package name → exact version. */
  packages: Record<string, string>;
}

/** One pin per guest arch (GuestArch.key). */
export type LockFile = Record<string, GuestPackages>;

export const lockPath = (): string => join(packageRoot, 'qemu', 'guest.lock.json');

export function readLock(file = lockPath()): LockFile {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as LockFile) : {};
}

export const pinOf = (lock: LockFile, a: GuestArch): GuestPackages | undefined => lock[a.key];

/** The lock with `a` pinned to `pkgs`; other pins keep their place and content. */
export const withPin = (lock: LockFile, a: GuestArch, pkgs: GuestPackages): LockFile => ({ ...lock, [a.key]: pkgs });

export function writeLock(lock: LockFile, file = lockPath()): void {
  writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
}
