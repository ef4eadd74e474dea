// qemu/guest.lock.json: the Debian packages each kernel suite and guest arch
// is pinned to.
// Only `devmap guest lock --update` writes it (updateLock in debian.ts);
// a run reads it and nothing else, the way npm ci reads package-lock.json.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { packageRoot } from '../../paths.js';

export interface GuestPackages {
  /** Kernel ABI, e.g. "6.1.0-57-amd64", "6.12.117+deb13-amd64". */
  abi: string;
  /** The kernel's suite's packages (kernel, headers, kbuild, busybox): name → exact version. */
  packages: Record<string, string>;
  /** A foreign guest's Node and libraries, from the userland suite (machines/suites.ts). */
  userland?: Record<string, string>;
}

/** One pin per kernel suite and guest arch, keyed "suite/arch" ("trixie/x86_64"). */
export type LockFile = Record<string, GuestPackages>;

export const lockPath = (): string => join(packageRoot, 'qemu', 'guest.lock.json');

export function readLock(file = lockPath()): LockFile {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as LockFile) : {};
}

export const pinOf = (lock: LockFile, key: string): GuestPackages | undefined => lock[key];

/** The lock with `a` pinned to `pkgs`; other pins keep their place and content. */
export const withPin = (lock: LockFile, key: string, pkgs: GuestPackages): LockFile => ({ ...lock, [key]: pkgs });

export function writeLock(lock: LockFile, file = lockPath()): void {
  writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
}
