// The one place the addon is loaded. Imports nothing else from lib/.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Hand-written types of every export of native/addon. */
export interface NativeAddon {
  mmap(fd: number, length: number, prot: number, flags: number, offset: bigint): ArrayBuffer;
  /** Detaches `buffer`, then munmap()s it. False if it was already unmapped. */
  munmap(buffer: ArrayBuffer): boolean;
  msync(buffer: ArrayBuffer, offset: number, length: number, flags: number): void;
  madvise(buffer: ArrayBuffer, offset: number, length: number, advice: number): void;
  address(buffer: ArrayBuffer): bigint;
  read8(buffer: ArrayBuffer, offset: number): number;
  read16(buffer: ArrayBuffer, offset: number): number;
  read32(buffer: ArrayBuffer, offset: number): number;
  read64(buffer: ArrayBuffer, offset: number): bigint;
  write8(buffer: ArrayBuffer, offset: number, value: number): void;
  write16(buffer: ArrayBuffer, offset: number, value: number): void;
  write32(buffer: ArrayBuffer, offset: number, value: number): void;
  write64(buffer: ArrayBuffer, offset: number, value: bigint): void;
  memfdCreate(name: string, flags: number): number;
  /** `arg`: a view the kernel reads/writes in place, a by-value integer, or nothing. */
  ioctl(fd: number, request: number, arg?: ArrayBufferView | number): number;
  constants: NativeConstants;
}

export interface NativeConstants {
  PAGE_SIZE: number;
  PROT_READ: number;
  PROT_WRITE: number;
  MAP_SHARED: number;
  MAP_PRIVATE: number;
  MS_SYNC: number;
  MS_ASYNC: number;
  MS_INVALIDATE: number;
  MADV_NORMAL: number;
  MADV_RANDOM: number;
  MADV_SEQUENTIAL: number;
  MADV_WILLNEED: number;
  MADV_DONTNEED: number;
  MADV_DONTFORK: number;
  MADV_DOFORK: number;
  MADV_HUGEPAGE: number;
  MADV_NOHUGEPAGE: number;
  MFD_CLOEXEC: number;
  MFD_ALLOW_SEALING: number;
}

/** Package root: dist/ or lib/ sits directly under it. */
export const packageRoot = dirname(dirname(fileURLToPath(import.meta.url)));

function load(): [NativeAddon, string] {
  // DEVMAP_ADDON names a prebuilt addon (a cross build for a guest, say).
  const candidates = [process.env.DEVMAP_ADDON, join(packageRoot, 'build', 'Release', 'devmap.node')];
  const require = createRequire(import.meta.url);
  for (const file of candidates) {
    if (file && existsSync(file)) return [require(file) as NativeAddon, file];
  }
  throw new Error(
    `devmap: the native addon is not built (looked for ${candidates.filter(Boolean).join(', ')}); ` +
      `run "npm rebuild devmap" (or "npm install" in ${packageRoot})`
  );
}

/** The addon, and the file it was loaded from. */
export const [native, addonPath] = load();
