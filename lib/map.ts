// mapFile / mapFd: open (or take) a descriptor, decide the length from what
// it is, mmap it MAP_SHARED; the Mapping they return is mapping.ts.
import { closeSync, fstatSync, openSync, type Stats } from 'node:fs';

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
export function mapFdWith(fd: number, path: string, options: MapOptions, stat: Stats): Mapping {
  const { offset, length, write } = checkOptions(options);
  let len: bigint;
  if (stat.isFile()) {
    const size = BigInt(stat.size);
    if (length === undefined) {
      if (offset >= size) {
        throw rangeError(`offset ${offset} is at or past the end of ${path} (${size} bytes); pass a smaller offset or grow the file`);
      }
      len = size - offset;
    } else {
      if (offset + length > size) {
        throw rangeError(
          `range [${offset}, ${offset + length}) goes past the end of ${path} (${size} bytes); ` +
            'grow the file first (fs.truncateSync) or map less -- touching pages past the end would raise SIGBUS'
        );
      }
      len = length;
    }
  } else if (stat.isCharacterDevice() || stat.isBlockDevice()) {
    if (length === undefined) throw typeError(`length is required when mapping the device ${path}`);
    len = length;
  } else if (stat.isDirectory()) {
    throw systemError('EISDIR', 'mmap', path, 'illegal operation on a directory');
  } else {
    throw systemError('ENODEV', 'mmap', path, 'not a regular file or device');
  }
  if (len > BigInt(Number.MAX_SAFE_INTEGER)) throw rangeError(`length must be at most 2^53 - 1, got ${len}`);
  const prot = C.PROT_READ | (write ? C.PROT_WRITE : 0);
  let buffer: ArrayBuffer;
  try {
    buffer = native.mmap(fd, Number(len), prot, C.MAP_SHARED, offset);
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
  const { write } = checkOptions(options);
  const fd = openSync(path, write ? 'r+' : 'r');
  try {
    return mapFd(fd, path, options);
  } finally {
    closeSync(fd);
  }
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
