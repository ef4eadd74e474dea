// The ioctl ABI of /dev/eduN, mirrored from native/kmod/edu/devmap_edu.h;
// test/host/abi.test.ts compiles that header and checks every number, size
// and offset here against it.
import { _IO, _IOR, _IOW, _IOWR } from '../ioctl.js';

const MAGIC = 0xd8;

/** Usable bytes of the edu device's memory: QEMU 7.2 aborts the VM on a transfer touching byte 4095. */
export const EDU_WINDOW = 4095;
/** Largest buffer the driver allocates (the page allocator's MAX_ORDER). */
export const EDU_BUF_MAX = 4 << 20;
export const EDU_TIMEOUT_MAX_MS = 60_000;
export const EDU_TO_DEVICE = 0;
export const EDU_FROM_DEVICE = 1;
/** sizeof(struct edu_xfer) */
export const XFER_SIZE = 32;
/** sizeof(struct edu_info), struct edu_alloc, struct edu_stats */
export const INFO_SIZE = 24;
export const ALLOC_SIZE = 32;
export const STATS_SIZE = 48;

/** Request numbers of devmap_edu.h. */
export const EDU_IOC = {
  INFO: _IOR(MAGIC, 0, INFO_SIZE),
  ALLOC: _IOWR(MAGIC, 1, ALLOC_SIZE),
  FREE: _IO(MAGIC, 2),
  DMA: _IOW(MAGIC, 3, XFER_SIZE),
  STATS: _IOR(MAGIC, 4, STATS_SIZE),
  FACTORIAL: _IOWR(MAGIC, 5, 8),
  LIVENESS: _IOWR(MAGIC, 6, 8),
} as const;

const IRQ_MODES = ['poll', 'intx', 'msi'] as const;

export interface EduInfo {
  /** Identification register, 0xRRrr00ed. */
  ident: number;
  version: { major: number; minor: number };
  /** How the driver learns a transfer is done. */
  irqMode: (typeof IRQ_MODES)[number];
  /** DMA mask the driver set (the device drives 28 address bits). */
  dmaMask: bigint;
  /** Usable bytes of device memory (4095). */
  window: number;
  /** Largest DMA buffer, bytes. */
  bufferMax: number;
}

/** Driver-wide counters since the module was loaded (all devices, all processes). */
export interface EduStats {
  allocated: number;
  freed: number;
  liveBytes: number;
  transfers: number;
  timeouts: number;
  irqs: number;
}

const u64 = (v: DataView, at: number) => Number(v.getBigUint64(at, true));

/** Decodes struct edu_info. */
export function decodeInfo(b: Uint8Array): EduInfo {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const ident = v.getUint32(0, true);
  return {
    ident,
    version: { major: ident >>> 24, minor: (ident >>> 16) & 0xff },
    irqMode: IRQ_MODES[v.getUint32(4, true)] ?? 'poll',
    dmaMask: v.getBigUint64(8, true),
    window: v.getUint32(16, true),
    bufferMax: v.getUint32(20, true),
  };
}

/** Decodes struct edu_stats. */
export function decodeStats(b: Uint8Array): EduStats {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { allocated: u64(v, 0), freed: u64(v, 8), liveBytes: u64(v, 16), transfers: u64(v, 24), timeouts: u64(v, 32), irqs: u64(v, 40) };
}

export interface Transfer {
  offset: number;
  deviceOffset: number;
  length: number;
  timeoutMs: number;
}

/** struct edu_xfer, in the machine's byte order (little-endian on every target devmap builds for). */
export function encodeTransfer(id: number, dir: number, t: Transfer): Uint8Array {
  const bytes = new Uint8Array(XFER_SIZE);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, id, true);
  v.setUint32(4, dir, true);
  v.setBigUint64(8, BigInt(t.offset), true);
  v.setUint32(16, t.length, true);
  v.setUint32(20, t.deviceOffset, true);
  v.setUint32(24, t.timeoutMs, true);
  return bytes;
}
