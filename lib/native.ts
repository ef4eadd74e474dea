// The one place the addon is loaded. Imports nothing else from lib/ but the
// path helper (a leaf without side effects).
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { packageRoot } from './paths.js';

/** Hand-written types of every export of native/addon. */
export interface NativeAddon {
  mmap(fd: number, length: number, prot: number, flags: number, offset: bigint): ArrayBuffer;
  /**
   * open(2) `path` with `openFlags` (plus O_CLOEXEC), fstat(2) it, mmap(2) the
   * length `lengthOf(st_mode, st_size)` returns (its exception is passed on),
   * close(2). System errors carry `path`.
   */
  mapPath(
    path: string,
    openFlags: number,
    lengthOf: (mode: number, size: number) => number,
    prot: number,
    flags: number,
    offset: bigint
  ): ArrayBuffer;
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
  /** Does nothing: the cost of an N-API call, a benchmark baseline. */
  noop(): void;
  /** `arg`: a TypedArray or DataView the kernel reads/writes in place (from its byteOffset), a by-value integer, or nothing. */
  ioctl(fd: number, request: number, arg?: ArrayBufferView | number): number;
  /** FBIOGET_FSCREENINFO + FBIOGET_VSCREENINFO, decoded. */
  fbGetInfo(fd: number): { fix: FbFix; var: FbVar };
  /** FBIOPUT_VSCREENINFO of the current var with `changes` applied; returns what the driver set. */
  fbPutVar(fd: number, changes: Partial<FbVar>, activate: number): FbVar;
  /** FBIOPAN_DISPLAY. */
  fbPan(fd: number, xoffset: number, yoffset: number): void;
  /** FBIO_WAITFORVSYNC on the thread pool. */
  fbWaitForVsync(fd: number): Promise<void>;
  /** eventfd(2) -> fd. Its 8-byte counter is read/written with node:fs. */
  eventfd(initval: number, flags: number): number;
  /** One sendmsg(2) of `data` (non-empty; any TypedArray or DataView) with `fds` as SCM_RIGHTS; MSG_DONTWAIT | MSG_NOSIGNAL. */
  sendFds(socketFd: number, data: ArrayBufferView, fds: number[]): number;
  /** One recvmsg(2), MSG_DONTWAIT (EAGAIN when empty); received fds are close-on-exec; empty `data` = EOF. */
  recvFds(socketFd: number, maxData: number, maxFds: number): { data: Buffer; fds: number[]; truncated: boolean };
  /** A connected AF_UNIX stream socket that libuv never reads (so passed fds are not lost). */
  unixConnect(path: string): number;
  /** poll(2) on the thread pool: revents per fd. Always bounded by `timeoutMs`. */
  poll(fds: number[], events: number, timeoutMs: number): Promise<number[]>;
  /**
   * FUTEX_WAIT (shared, not private) on the int32 at `offset` of `buffer`
   * while it equals `expected`, at most `timeoutMs`, on the thread pool.
   * `offset` must be 4-aligned and inside; an unmapped buffer is a RangeError.
   */
  futexWait(buffer: ArrayBuffer, offset: number, expected: number, timeoutMs: number): Promise<FutexOutcome>;
  /** futexWait, blocking the calling thread. */
  futexWaitSync(buffer: ArrayBuffer, offset: number, expected: number, timeoutMs: number): FutexOutcome;
  /** FUTEX_WAKE of every waiter on the int32 at `offset`; how many woke. */
  futexWake(buffer: ArrayBuffer, offset: number): number;
  /**
   * Watches `fd` for readability on the event loop (libuv's uv_poll): while
   * started, `callback(status, events)` runs on the JavaScript thread each
   * time the fd is readable (status < 0: a libuv error). Only a started
   * watcher keeps the process alive; close() is final.
   */
  FdWatcher: new (fd: number, callback: (status: number, events: number) => void) => FdWatcher;
  constants: NativeConstants;
}

/** Woken (or a signal), the word no longer held `expected`, or the time ran out. */
export type FutexOutcome = 'ok' | 'not-equal' | 'timed-out';

export interface FdWatcher {
  start(): void;
  stop(): void;
  close(): void;
}

export interface FbBitfield {
  offset: number;
  length: number;
  msbRight: boolean;
}

/** struct fb_fix_screeninfo (selected fields). */
export interface FbFix {
  id: string;
  smemStart: bigint;
  smemLen: number;
  type: number;
  visual: number;
  xpanstep: number;
  ypanstep: number;
  ywrapstep: number;
  lineLength: number;
  mmioStart: bigint;
  mmioLen: number;
  accel: number;
}

/** struct fb_var_screeninfo (selected fields). */
export interface FbVar {
  xres: number;
  yres: number;
  xresVirtual: number;
  yresVirtual: number;
  xoffset: number;
  yoffset: number;
  bitsPerPixel: number;
  grayscale: number;
  red: FbBitfield;
  green: FbBitfield;
  blue: FbBitfield;
  transp: FbBitfield;
  nonstd: number;
  activate: number;
  height: number;
  width: number;
  pixclock: number;
  vmode: number;
  rotate: number;
}

export interface NativeConstants {
  PAGE_SIZE: number;
  PROT_READ: number;
  PROT_WRITE: number;
  MAP_SHARED: number;
  MAP_PRIVATE: number;
  MS_SYNC: number;
  MS_ASYNC: number;
  MADV_NORMAL: number;
  MADV_RANDOM: number;
  MADV_SEQUENTIAL: number;
  MADV_WILLNEED: number;
  MADV_DONTNEED: number;
  MADV_HUGEPAGE: number;
  MADV_NOHUGEPAGE: number;
  MFD_CLOEXEC: number;
  FBIOBLANK: number;
  FB_BLANK_UNBLANK: number;
  FB_BLANK_POWERDOWN: number;
  FB_ACTIVATE_NOW: number;
  FB_ACTIVATE_FORCE: number;
  FB_VISUAL_TRUECOLOR: number;
  FB_VISUAL_DIRECTCOLOR: number;
  FB_VISUAL_PSEUDOCOLOR: number;
  KDSETMODE: number;
  KD_TEXT: number;
  KD_GRAPHICS: number;
  EFD_CLOEXEC: number;
  EFD_NONBLOCK: number;
  POLLIN: number;
}

/** node-gyp-build's lookup (it ships no types). */
interface NodeGypBuild {
  /** build/Release, build/Debug, then prebuilds/<platform>-<arch>/ under `dir`; throws when none has an addon. */
  path(dir: string): string;
}

/** The prebuilds/ folders this package has, e.g. ['linux-arm', 'linux-arm64']. */
function prebuildDirs(): string[] {
  const dir = join(packageRoot, 'prebuilds');
  return existsSync(dir) ? readdirSync(dir).filter((d) => !d.startsWith('.')).sort() : [];
}

function notLoaded(message: string, cause: unknown): Error {
  const err = new Error(message, { cause });
  return Object.assign(err, { code: 'ERR_DEVMAP_ADDON' });
}

/**
 * DEVMAP_ADDON names an addon file (a cross build for a guest, say); else
 * node-gyp-build's order: a local build (build/Release) wins over the
 * package's prebuilds/<platform>-<arch>/.
 */
function locate(require: NodeJS.Require): string {
  const named = process.env.DEVMAP_ADDON;
  if (named && existsSync(named)) return named;
  try {
    return (require('node-gyp-build') as NodeGypBuild).path(packageRoot);
  } catch (err) {
    const target = `${process.platform}-${process.arch}`;
    const have = prebuildDirs();
    throw notLoaded(
      `devmap: the native addon is not built for ${target}, and this package has ${have.length ? `prebuilds for ${have.join(', ')} only` : 'no prebuilds'} ` +
        `(looked in ${named ? `DEVMAP_ADDON=${named}, ` : ''}${join(packageRoot, 'build', 'Release')} and ${join(packageRoot, 'prebuilds', target)}); ` +
        `build it from source with "npm rebuild devmap" (needs make, g++ and python3), or "npm install" in ${packageRoot}`,
      err
    );
  }
}

function load(): [NativeAddon, string] {
  const require = createRequire(import.meta.url);
  const file = locate(require);
  try {
    return [require(file) as NativeAddon, file];
  } catch (err) {
    throw notLoaded(
      `devmap: the native addon ${file} did not load (${(err as Error).message.split('\n')[0]}); ` +
        'build it for this machine with "npm rebuild devmap --build-from-source" (needs make, g++ and python3)',
      err
    );
  }
}

/** The addon, and the file it was loaded from. */
export const [native, addonPath] = load();
