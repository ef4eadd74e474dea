// The ioctl ABI of /dev/ivshmemN, mirrored from
// native/kmod/ivshmem/devmap_ivshmem.h; test/host/abi.test.ts compiles that
// header and checks every number and size here against it.
import { _IO, _IOR, _IOW, _IOWR } from '../ioctl.js';

const MAGIC = 0xd7;

export const INFO_SIZE = 32;
export const REG_SIZE = 8;

export const IOC = {
  INFO: _IOR(MAGIC, 0, INFO_SIZE),
  SET_CACHE: _IOW(MAGIC, 1, 4),
  REG_READ: _IOWR(MAGIC, 2, REG_SIZE),
  REG_WRITE: _IOW(MAGIC, 3, REG_SIZE),
  RING: _IOW(MAGIC, 4, 4),
  CANCEL: _IO(MAGIC, 6),
} as const;

export type CacheMode = 'wb' | 'uc' | 'wc';
export const CACHE_MODES: readonly CacheMode[] = ['wb', 'uc', 'wc'];
/** IVSHMEM_CACHE_*: index in CACHE_MODES. */
export const cacheCode = (mode: CacheMode): number => CACHE_MODES.indexOf(mode);

export type Variant = 'plain' | 'doorbell';

/** BAR0 registers (QEMU docs/specs/ivshmem-spec.rst). */
export const REGISTERS = { intrmask: 0x00, intrstatus: 0x04, ivposition: 0x08, doorbell: 0x0c } as const;
export type Register = keyof typeof REGISTERS;

export interface DriverInfo {
  size: bigint;
  ivPosition: number;
  vectors: number;
  variant: Variant;
  cache: CacheMode;
  /** What the last mmap() of the file really got (x86 PAT may downgrade), or null before one. */
  granted: CacheMode | null;
}

/** Decodes struct ivshmem_info. */
export function decodeInfo(buf: Uint8Array): DriverInfo {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return {
    size: v.getBigUint64(0, true),
    ivPosition: v.getUint32(8, true),
    vectors: v.getUint32(12, true),
    variant: v.getUint32(16, true) === 1 ? 'doorbell' : 'plain',
    cache: CACHE_MODES[v.getUint32(20, true)] ?? 'wb',
    granted: CACHE_MODES[v.getUint32(24, true)] ?? null,
  };
}

/** struct ivshmem_reg / struct ivshmem_eventfd: two 32-bit fields. */
export function pair(a: number, b: number): Uint8Array {
  const buf = new Uint8Array(8);
  const v = new DataView(buf.buffer);
  v.setUint32(0, a, true);
  v.setInt32(4, b | 0, true);
  return buf;
}
