// Error construction shared by the whole library. Argument errors carry
// Node's own codes (ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE); system errors
// have the node:fs shape (code, errno, syscall, path).
import { constants as osConstants } from 'node:os';

export interface SystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
}

function withCode<E extends Error>(err: E, code: string): E & { code: string } {
  return Object.assign(err, { code });
}

export function typeError(message: string): TypeError & { code: string } {
  return withCode(new TypeError(message), 'ERR_INVALID_ARG_TYPE');
}

export function rangeError(message: string): RangeError & { code: string } {
  return withCode(new RangeError(message), 'ERR_OUT_OF_RANGE');
}

/** An error a caller can act on that is not a failed system call. */
export function devmapError(code: string, message: string): Error & { code: string } {
  return withCode(new Error(message), code);
}

/** Builds a node:fs-shaped system error for `code` (e.g. 'EISDIR'). */
export function systemError(code: string, syscall: string, path: string | undefined, detail: string): SystemError {
  const errno = (osConstants.errno as Record<string, number>)[code] ?? 0;
  const where = path === undefined ? syscall : `${syscall} '${path}'`;
  const err = new Error(`${code}: ${detail}, ${where}`) as SystemError;
  err.code = code;
  err.errno = -errno;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
}

/** Adds `path` to a system error thrown by the addon, as node:fs would. */
export function withPath(err: unknown, path: string): unknown {
  if (isSystemError(err) && err.path === undefined) {
    err.path = path;
    err.message = `${err.message} '${path}'`;
  }
  return err;
}

/**
 * Puts what to do in front of a system error's message (as node:fs-shaped
 * errors stay: `code`, `errno`, `syscall` and `path` are kept).
 */
export function explain<E extends SystemError>(err: E, advice: string): E {
  err.message = `${advice} (${err.message})`;
  return err;
}

/**
 * Opens a device node with `open` (a device's system interface). A node,
 * driver or device that is not there (ENOENT, ENXIO, ENODEV) is explained
 * with `advice`: what to load or start.
 */
export function openDeviceNode(path: string, open: (path: string) => number, advice: string): number {
  if (typeof path !== 'string' || path.length === 0) throw typeError('path must be a non-empty string');
  try {
    return open(path);
  } catch (err) {
    if (['ENOENT', 'ENXIO', 'ENODEV'].some((code) => isSystemError(err, code))) explain(err as SystemError, advice);
    throw err;
  }
}

export function isSystemError(err: unknown, code?: string): err is SystemError {
  if (!(err instanceof Error)) return false;
  const e = err as Partial<SystemError>;
  return typeof e.syscall === 'string' && (code === undefined || e.code === code);
}

const MAX_U63 = (1n << 63n) - 1n;

/**
 * Checks a byte offset or length given as a number (a safe integer) or a
 * bigint, and returns it as a bigint. `name` is the option's name as the
 * caller wrote it.
 */
export function toU64(value: unknown, name: string, { min = 0n }: { min?: bigint } = {}): bigint {
  let v: bigint;
  if (typeof value === 'bigint') {
    v = value;
  } else if (typeof value === 'number') {
    if (Number.isNaN(value) || !Number.isFinite(value)) {
      throw rangeError(`${name} must be a finite integer, got ${value}`);
    }
    if (!Number.isInteger(value)) throw rangeError(`${name} must be an integer, got ${value}`);
    if (!Number.isSafeInteger(value)) {
      throw rangeError(`${name} must be at most 2^53 - 1 as a number (pass a bigint for more), got ${value}`);
    }
    v = BigInt(value);
  } else {
    throw typeError(`${name} must be a number or a bigint, got ${value === null ? 'null' : typeof value}`);
  }
  if (v < min || v > MAX_U63) throw rangeError(`${name} must be >= ${min} and <= 2^63 - 1, got ${v}`);
  return v;
}

/** Checks an offset into something `size` bytes long that is `width`-aligned. */
export function checkIndex(value: unknown, name: string, size: number, width = 1): number {
  if (typeof value !== 'number') throw typeError(`${name} must be a number, got ${typeof value}`);
  if (!Number.isInteger(value) || value < 0 || value + width > size) {
    throw rangeError(`${name} must be an integer in [0, ${size - width}], got ${value}`);
  }
  if (value % width !== 0) throw rangeError(`${name} must be a multiple of ${width} (aligned ${width * 8}-bit access), got ${value}`);
  return value;
}

/** The longest delay setTimeout() honours (a longer one fires at once). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Checks a timeout in milliseconds: an integer in [min, 2^31 - 1]. */
export function checkMs(value: unknown, name: string, min = 1): number {
  if (typeof value !== 'number') throw typeError(`${name} must be a number, got ${typeof value}`);
  if (!Number.isInteger(value) || value < min || value > MAX_TIMEOUT_MS) {
    throw rangeError(`${name} must be an integer in [${min}, ${MAX_TIMEOUT_MS}] (milliseconds), got ${value}`);
  }
  return value;
}
