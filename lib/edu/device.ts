// Edu: the devmap edu driver (native/kmod/edu) from Node -- DMA buffers,
// DMA transfers, and the device's factorial and liveness registers.
import { DmaBuffer, checkDmaSize, checkTransfer, type TransferOptions } from './dma.js';
import {
  ALLOC_SIZE, EDU_FROM_DEVICE, EDU_IOC, EDU_TO_DEVICE, INFO_SIZE, STATS_SIZE, decodeInfo, decodeStats, encodeTransfer, type EduInfo, type EduStats,
} from './abi.js';
import { devmapError, openDeviceNode, rangeError, typeError, withPath } from '../errors.js';
import { eduSys, type EduSys } from './sys.js';

export type { EduInfo, EduStats } from './abi.js';

/** An open edu device (`/dev/eduN`). */
export class Edu {
  readonly path: string;
  #fd: number;
  #sys: EduSys;
  #closed = false;
  #pending = 0;

  /** @internal use Edu.open() */
  constructor(fd: number, path: string, sys: EduSys) {
    this.#fd = fd;
    this.path = path;
    this.#sys = sys;
  }

  /** Opens the device node of the devmap edu driver. */
  static open(path = '/dev/edu0'): Edu {
    return openEdu(path);
  }

  get closed(): boolean {
    return this.#closed;
  }

  #ioctl(request: number, arg?: Uint8Array | number): void {
    if (this.#closed) throw devmapError('ERR_DEVMAP_CLOSED', `${this.path} is already closed`);
    try {
      this.#sys.ioctl(this.#fd, request, arg);
    } catch (err) {
      throw withPath(err, this.path);
    }
  }

  info(): EduInfo {
    const b = new Uint8Array(INFO_SIZE);
    this.#ioctl(EDU_IOC.INFO, b);
    return decodeInfo(b);
  }

  stats(): EduStats {
    const b = new Uint8Array(STATS_SIZE);
    this.#ioctl(EDU_IOC.STATS, b);
    return decodeStats(b);
  }

  /** The device's n! modulo 2^32 (exact up to 12!; 0 from 34 on). Large n takes the device a while. */
  factorial(n: number): number {
    return this.#word(EDU_IOC.FACTORIAL, n, 'n');
  }

  /** Writes `x` to the liveness register and returns what it reads back: ~x on a live card. */
  liveness(x: number): number {
    return this.#word(EDU_IOC.LIVENESS, x, 'x');
  }

  #word(request: number, value: number, name: string): number {
    if (typeof value !== 'number') throw typeError(`${name} must be a number, got ${typeof value}`);
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw rangeError(`${name} must be an integer in [0, 4294967295], got ${value}`);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setUint32(0, value, true);
    this.#ioctl(request, b);
    return new DataView(b.buffer).getUint32(4, true);
  }

  /** Allocates a coherent DMA buffer of `size` bytes (rounded up to pages, at most 4 MiB), zeroed, and maps it. */
  allocDma(size: number): DmaBuffer {
    const b = new Uint8Array(ALLOC_SIZE);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, BigInt(checkDmaSize(size)), true);
    this.#ioctl(EDU_IOC.ALLOC, b);
    const id = v.getUint32(24, true);
    try {
      const mapping = this.#sys.map(this.#fd, this.path, { offset: v.getBigUint64(8, true), length: v.getBigUint64(0, true) });
      return new DmaBuffer(this, id, v.getBigUint64(16, true), mapping, (i) => this.#free(i));
    } catch (err) {
      try {
        this.#free(id);
      } catch {
        // The mapping error is what the caller can act on; the kernel frees
        // a buffer left behind when this file is closed.
      }
      throw err;
    }
  }

  // After close() the kernel drops the file's buffers itself, once unmapped.
  #free(id: number): void {
    if (!this.#closed) this.#ioctl(EDU_IOC.FREE, id);
  }

  /** Copies `length` bytes from the buffer (at `offset`) into device memory (at `deviceOffset`). */
  dmaToDevice(buf: DmaBuffer, options: TransferOptions): Promise<void> {
    return this.#transfer(buf, options, EDU_TO_DEVICE);
  }

  /** Copies `length` bytes from device memory (at `deviceOffset`) into the buffer (at `offset`). */
  dmaFromDevice(buf: DmaBuffer, options: TransferOptions): Promise<void> {
    return this.#transfer(buf, options, EDU_FROM_DEVICE);
  }

  /*
   * A transfer takes ~100 ms. The driver runs one per write() of a struct
   * edu_xfer and returns when it is done, so fs.write() runs it on libuv's
   * thread pool and the event loop stays free. Errors are node:fs system
   * errors (syscall 'write'): EINVAL, ENOENT, EBUSY, ETIMEDOUT, ENODEV.
   */
  async #transfer(buf: DmaBuffer, options: TransferOptions, dir: number): Promise<void> {
    if (!(buf instanceof DmaBuffer)) throw typeError('buffer must be a DmaBuffer from allocDma()');
    if (buf.owner !== this) throw typeError(`buffer ${buf.id} was allocated by another Edu; transfer with the one that allocated it`);
    buf.check();
    if (this.#closed) throw devmapError('ERR_DEVMAP_CLOSED', `${this.path} is already closed`);
    const record = encodeTransfer(buf.id, dir, checkTransfer(options, buf.size));
    this.#pending++;
    try {
      await this.#sys.write(this.#fd, record);
    } catch (err) {
      throw withPath(err, this.path);
    } finally {
      // close() during a transfer defers closing the fd to here, so a write
      // still queued on the pool never lands on a reused descriptor number.
      if (--this.#pending === 0 && this.#closed) this.#sys.close(this.#fd);
    }
  }

  /**
   * Closes the device. Idempotent. Buffers stay mapped and usable as memory
   * (the kernel frees each when it is unmapped) but can no longer transfer.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pending === 0) this.#sys.close(this.#fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Edu.open() through `sys` (internal: tests fake the driver). */
export function openEdu(path = '/dev/edu0', sys: EduSys = eduSys): Edu {
  const fd = openDeviceNode(path, (p) => sys.open(p), `no edu device at ${path}: load native/kmod/edu (insmod devmap_edu.ko) and start QEMU with -device edu`);
  const edu = new Edu(fd, path, sys);
  try {
    edu.info(); // proves this is our driver: anything else answers ENOTTY
  } catch (err) {
    edu.close();
    throw err;
  }
  return edu;
}
