// For host hooks (*.host.mjs): what the guest left in a backing file.
import { closeSync, openSync, readSync } from 'node:fs';

/**
 * `length` bytes of the file at `path` from offset `at`.
 * @param {string} path
 * @param {number} at
 * @param {number} length
 */
export function readAt(path, at, length) {
  const got = Buffer.alloc(length);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, got, 0, length, at);
  } finally {
    closeSync(fd);
  }
  return got;
}
