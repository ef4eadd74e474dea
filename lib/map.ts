// mapFile / mapFd: open (or take) a descriptor, decide the length from what
// it is, mmap it MAP_SHARED; the Mapping they return is mapping.ts.
import { constants as fsc, fstatSync, type Stats } from 'node:fs';

import { native } from './native.js';
import { rangeError, systemError, toU64, typeError, withPath } from './errors.js';
import { Mapping, PAGE_SIZE } from './mapping.js';

const C = native.constants;

export interface MapOptions {
  /** Byte offset into the file; a multiple of the page size. Default 0. */
  offset?: number | bigint;
  /** Bytes to map. Default: the rest of a regular file; required for devices. */
  length?: number | bigint;
  /** Map read-write (the file is opened read-write). Default true. */
  write?: boolean;
}

/**
 * Maps an already open file descriptor. The caller keeps ownership of `fd`
 * (the mapping stays valid after it is closed). The fd's fstat(2) decides
 * the defaults, as in mapFile().
 */
export function mapFd(fd: number, path: string, options: MapOptions = {}): Mapping {
  return mapFdWith(fd, path, options, fstatSync(fd));
}

/** mapFd() with the fd's `stat` already at hand (internal: callers that checked it save an fstat). */
export function mapFdWith(fd: number, path: string, options: MapOptions, stat: Pick<Stats, 'mode' | 'size'>): Mapping {
  const { offset, length, write } = checkOptions(options);
  const len = lengthToMap(path, offset, length, stat.mode, stat.size);
  let buffer: ArrayBuffer;
  try {
    buffer = native.mmap(fd, len, protOf(write), C.MAP_SHARED, offset);
  } catch (err) {
    throw withPath(err, path);
  }
  return new Mapping(buffer, path, offset, write);
}

/**
 * Maps `path` (a regular file, a /dev/shm file, a memfd via /proc/self/fd/N,
 * or a device node) with MAP_SHARED.
 */
export function mapFile(path: string, options: MapOptions = {}): Mapping {
  if (typeof path !== 'string' || path.length === 0) throw typeError('path must be a non-empty string');
  if (path.includes('\0')) throw typeError('path must be a string without null bytes');
  const { offset, length, write } = checkOptions(options);
  // One addon call opens, fstats, maps and closes (node:fs would add a Stats
  // object and libuv's request setup to a call whose floor is mmap + munmap);
  // the length is still decided here.
  const buffer = native.mapPath(
    path,
    write ? fsc.O_RDWR : fsc.O_RDONLY,
    (mode, size) => lengthToMap(path, offset, length, mode, size),
    protOf(write),
    C.MAP_SHARED,
    offset
  );
  return new Mapping(buffer, path, offset, write);
}

function protOf(write: boolean): number {
  return C.PROT_READ | (write ? C.PROT_WRITE : 0);
}

/** How many bytes to map of what fstat(2) says `path` is (`mode`, `size`): the rest of a regular file by default, `length` for a device. */
function lengthToMap(path: string, offset: bigint, length: bigint | undefined, mode: number, size: number): number {
  let len: bigint;
  const type = mode & fsc.S_IFMT;
  if (type === fsc.S_IFREG) {
    const end = BigInt(size);
    if (length === undefined) {
      if (offset >= end) {
        throw rangeError(`offset ${offset} is at or past the end of ${path} (${end} bytes); pass a smaller offset or grow the file`);
      }
      len = end - offset;
    } else {
      if (offset + length > end) {
        throw rangeError(
          `range [${offset}, ${offset + length}) goes past the end of ${path} (${end} bytes); ` +
            'grow the file first (fs.truncateSync) or map less -- touching pages past the end would raise SIGBUS'
        );
      }
      len = length;
    }
  } else if (type === fsc.S_IFCHR || type === fsc.S_IFBLK) {
    if (length === undefined) throw typeError(`length is required when mapping the device ${path}`);
    len = length;
  } else if (type === fsc.S_IFDIR) {
    throw systemError('EISDIR', 'mmap', path, 'illegal operation on a directory');
  } else {
    throw systemError('ENODEV', 'mmap', path, 'not a regular file or device');
  }
  if (len > BigInt(Number.MAX_SAFE_INTEGER)) throw rangeError(`length must be at most 2^53 - 1, got ${len}`);
  return Number(len);
}

function checkOptions(options: MapOptions): { offset: bigint; length: bigint | undefined; write: boolean } {
  if (options === null || typeof options !== 'object') throw typeError('options must be an object');
  const offset = toU64(options.offset ?? 0, 'offset');
  if (offset % BigInt(PAGE_SIZE) !== 0n) {
    throw rangeError(`offset must be a multiple of the page size (${PAGE_SIZE}), got ${offset}`);
  }
  const length = options.length === undefined ? undefined : toU64(options.length, 'length', { min: 1n });
  const write = options.write ?? true;
  if (typeof write !== 'boolean') throw typeError(`write must be a boolean, got ${typeof write}`);
  return { offset, length, write };
}
