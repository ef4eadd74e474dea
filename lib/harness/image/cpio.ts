// A writer for the "newc" cpio format the kernel unpacks as an initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst). Written here
// because hosts rarely have cpio(1), and it lets us stream files straight
// from the host tree. Uncompressed on purpose: under TCG the kernel's
// decompressor costs seconds, copying costs milliseconds.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; mode?: number; from: string }
  | { type: 'data'; path: string; mode?: number; data: Buffer | string }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'char'; path: string; mode?: number; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

const hex = (n: number): string => n.toString(16).padStart(8, '0');
const pad4 = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);

function header(ino: number, mode: number, size: number, name: string, rdev: [number, number] = [0, 0]): Buffer {
  const nameBytes = Buffer.from(name + '\0');
  const fields = [ino, mode, 0, 0, 1, 0, size, 0, 0, rdev[0], rdev[1], nameBytes.length, 0];
  const head = Buffer.from('070701' + fields.map(hex).join(''), 'ascii');
  return Buffer.concat([head, nameBytes, pad4(head.length + nameBytes.length)]);
}

/** Writes `entries` (paths relative to the guest's /) as a newc archive. */
export function writeCpio(out: string, entries: Iterable<CpioEntry>): void {
  const fd = openSync(out, 'w');
  let ino = 1;
  const put = (b: Buffer): void => {
    writeSync(fd, b);
  };
  try {
    for (const e of entries) {
      const name = e.path.replace(/^\/+/, '');
      switch (e.type) {
        case 'dir':
          put(header(ino++, S_IFDIR | (e.mode ?? 0o755), 0, name));
          break;
        case 'symlink': {
          const t = Buffer.from(e.target);
          put(header(ino++, S_IFLNK | 0o777, t.length, name));
          put(t);
          put(pad4(t.length));
          break;
        }
        case 'char':
          put(header(ino++, S_IFCHR | (e.mode ?? 0o600), 0, name, [e.major, e.minor]));
          break;
        default: {
          const data = e.type === 'file' ? readFileSync(e.from) : Buffer.from(e.data);
          put(header(ino++, S_IFREG | (e.mode ?? 0o644), data.length, name));
          put(data);
          put(pad4(data.length));
        }
      }
    }
    put(header(0, 0, 0, 'TRAILER!!!'));
  } finally {
    closeSync(fd);
  }
}
