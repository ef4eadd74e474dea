// UNIX socket paths, shared by the ivshmem server and the host peer.
import { native } from '../native.js';
import { rangeError, typeError, withPath } from '../errors.js';

/** sockaddr_un's sun_path holds 108 bytes, the terminating NUL included. */
export const SUN_PATH_MAX = 107;

/** Checks a UNIX socket path: a non-empty string of at most 107 bytes (UTF-8). */
export function checkSocketPath(path: unknown, name: string): string {
  if (typeof path !== 'string' || path.length === 0) throw typeError(`${name} must be a non-empty string`);
  const bytes = Buffer.byteLength(path);
  if (bytes > SUN_PATH_MAX) {
    throw rangeError(`${name} must be at most ${SUN_PATH_MAX} bytes (the sun_path limit of a UNIX socket), got ${bytes}; use a shorter path`);
  }
  return path;
}

/** connect(2) to a UNIX stream socket; errors carry `path`, as node:fs errors do. */
export function unixConnect(path: string): number {
  try {
    return native.unixConnect(path);
  } catch (err) {
    throw withPath(err, path);
  }
}
