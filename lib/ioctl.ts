// Linux ioctl request numbers: _IOC() of asm-generic/ioctl.h, which x86 and
// arm (32 and 64 bit) use: dir << 30 | size << 16 | type << 8 | nr.
// The companion modules' numbers built from these are checked against their
// C headers by host tests (test/host/abi.test.ts).

const NONE = 0;
const WRITE = 1;
const READ = 2;

function ioc(dir: number, type: number, nr: number, size: number): number {
  if (size < 0 || size >= 1 << 14) throw new RangeError(`ioctl argument size must be in [0, 16383], got ${size}`);
  return ((dir << 30) >>> 0) + ((size << 16) | ((type & 0xff) << 8) | (nr & 0xff));
}

/** A request without an argument. */
export const _IO = (type: number, nr: number): number => ioc(NONE, type, nr, 0);
/** The kernel writes `size` bytes to user space. */
export const _IOR = (type: number, nr: number, size: number): number => ioc(READ, type, nr, size);
/** The kernel reads `size` bytes from user space. */
export const _IOW = (type: number, nr: number, size: number): number => ioc(WRITE, type, nr, size);
/** Both ways. */
export const _IOWR = (type: number, nr: number, size: number): number => ioc(READ | WRITE, type, nr, size);
