// QEMU's ivshmem device: list, open (companion module or sysfs), registers
// and interrupts.
import type { Mapping } from '../mapping.js';
import { devmapError, rangeError, withPath } from '../errors.js';
import { listPci } from './pci.js';
import { IOC, pair, REGISTERS, type CacheMode, type Register } from './abi.js';
import { MaskPump, type WaitOptions } from '../ipc/interrupts.js';
import { checkOpen, pick, windowOf, type IvshmemDevice, type OpenOptions } from './options.js';
import { MODULE_NAME, openModule, openSysfs, type IvshmemParts } from './open.js';
import { ivshmemSys, type IvshmemSys } from './sys.js';

export type { CacheMode, Register, Variant } from './abi.js';
export type { IvshmemDevice, OpenOptions } from './options.js';
export type { WaitOptions } from '../ipc/interrupts.js';
export { NO_DEVICE } from './options.js';
export { MODULE_NAME } from './open.js';

export const IVSHMEM_VENDOR = 0x1af4;
export const IVSHMEM_DEVICE = 0x1110;

// The safety net for a device never closed: its fd, closed the way it was opened.
const fdRegistry = new FinalizationRegistry<{ fd: number; sys: IvshmemSys }>(({ fd, sys }) => {
  try {
    sys.close(fd);
  } catch {
    /* already closed */
  }
});

/** An open ivshmem device: its shared memory mapped, plus registers and interrupts via the module. */
export class Ivshmem {
  /** Which way the memory was mapped: the companion module's node or sysfs resource2[_wc]. */
  readonly path: 'module' | 'sysfs';
  readonly device: IvshmemDevice;
  readonly memory: Mapping;
  readonly size: number;
  /** The cache attribute asked for. */
  readonly cache: CacheMode;
  /**
   * The attribute the kernel really gave the mapping (module path; null via
   * sysfs). x86 PAT maps 'wb' as uncached where the firmware's MTRRs make the
   * PCI hole uncached, and a second mapping of a BAR takes the first one's type.
   */
  readonly grantedCache: CacheMode | null;
  /** IVPosition: this peer's ID (0 without a doorbell server). */
  readonly ivPosition: number;
  /** MSI-X vectors (module path, doorbell variant), else 0. */
  readonly vectors: number;
  #fd: number;
  #sys: IvshmemSys;
  #closed = false;
  #reads = 0;
  #pump: MaskPump | null = null;

  /** @internal use Ivshmem.open() */
  constructor(init: IvshmemParts) {
    this.path = init.path;
    this.device = init.device;
    this.memory = init.memory;
    this.size = init.device.size;
    this.cache = init.cache;
    this.grantedCache = init.grantedCache;
    this.ivPosition = init.ivPosition;
    this.vectors = init.vectors;
    this.#fd = init.fd;
    this.#sys = init.sys;
    if (init.fd >= 0) fdRegistry.register(this, { fd: init.fd, sys: init.sys }, this);
  }

  /** Lists ivshmem devices from sysfs, in PCI address order. */
  static list(): IvshmemDevice[] {
    return listIvshmem();
  }

  /** Maps a device's shared memory, through /dev/ivshmemN if the module is bound, else sysfs. */
  static open(options: OpenOptions = {}): Ivshmem {
    return openIvshmem(options);
  }

  get closed(): boolean {
    return this.#closed;
  }

  #driverFd(what: string): number {
    if (this.#closed) throw devmapError('ERR_DEVMAP_CLOSED', `ivshmem ${this.device.address} is closed`);
    if (this.#fd < 0) {
      throw devmapError('ERR_DEVMAP_NO_MODULE', `${what} needs the ${MODULE_NAME} module; ${this.device.address} was opened through sysfs`);
    }
    return this.#fd;
  }

  /** An ioctl on the module's node; its errors carry the node as `path`. */
  #ioctl(fd: number, request: number, arg: Uint8Array): void {
    try {
      this.#sys.ioctl(fd, request, arg);
    } catch (err) {
      throw withPath(err, this.device.node!);
    }
  }

  /** Reads a BAR0 register ('intrmask', 'intrstatus', 'ivposition'). */
  readRegister(name: Register): number {
    const fd = this.#driverFd('register access');
    const buf = pair(register(name), 0);
    this.#ioctl(fd, IOC.REG_READ, buf);
    return new DataView(buf.buffer).getUint32(4, true);
  }

  /** Writes a BAR0 register ('intrmask', 'intrstatus', 'doorbell'). */
  writeRegister(name: Register, value: number): void {
    const fd = this.#driverFd('register access');
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw rangeError(`value must be an integer in [0, 2^32 - 1], got ${value}`);
    this.#ioctl(fd, IOC.REG_WRITE, pair(register(name), value));
  }

  /** Rings `vector` of peer `peer` (the Doorbell register). */
  ring(peer: number, vector = 0): void {
    const fd = this.#driverFd('ring()');
    for (const [n, v] of [['peer', peer], ['vector', vector]] as const) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw rangeError(`${n} must be an integer in [0, 65535], got ${v}`);
    }
    const buf = new Uint8Array(4);
    new DataView(buf.buffer).setUint32(0, ((peer << 16) >>> 0) + vector, true);
    this.#ioctl(fd, IOC.RING, buf);
  }

  /**
   * Without options: resolves with a bitmask of the MSI-X vectors that fired
   * since the last call (doorbell variant). The blocking read() runs on
   * libuv's thread pool, so the event loop keeps running; close() wakes it
   * (resolves 0n). With `{ vector, timeoutMs }`: resolves (with 1) once that
   * vector fired, rejects with ERR_DEVMAP_TIMEOUT after `timeoutMs`; do not
   * mix the two forms on one device (they would steal each other's bits).
   */
  waitForInterrupt(): Promise<bigint>;
  waitForInterrupt(options: WaitOptions): Promise<number>;
  // async: a closed device or one without the module rejects, never throws.
  async waitForInterrupt(options?: WaitOptions): Promise<bigint | number> {
    if (options === undefined) return this.#readMask();
    this.#driverFd('waitForInterrupt()');
    this.#pump ??= new MaskPump(Math.max(this.vectors, 1), () => this.#readMask());
    return this.#pump.wait(options);
  }

  // async for the same reason: MaskPump reads again from a then() callback,
  // where a synchronous throw would be an unhandled rejection.
  async #readMask(): Promise<bigint> {
    const fd = this.#driverFd('waitForInterrupt()');
    const buf = new Uint8Array(8);
    this.#reads++;
    try {
      const n = await this.#sys.read(fd, buf);
      return n === 8 ? new DataView(buf.buffer).getBigUint64(0, true) : 0n;
    } catch (err) {
      throw withPath(err, this.device.node!);
    } finally {
      // close() defers closing the fd until no read can still use it.
      if (--this.#reads === 0 && this.#closed) this.#sys.close(fd);
    }
  }

  /** Unmaps the memory and closes the device. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.memory.unmap();
    if (this.#fd >= 0) {
      fdRegistry.unregister(this);
      try {
        this.#sys.ioctl(this.#fd, IOC.CANCEL); // wake pending waitForInterrupt() reads
      } catch {
        /* device unbound meanwhile: ENODEV, nothing waits */
      }
      if (this.#reads === 0) this.#sys.close(this.#fd);
      this.#fd = -1;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function register(name: Register): number {
  const off = REGISTERS[name];
  if (off === undefined) throw rangeError(`register must be one of ${Object.keys(REGISTERS).join(', ')}, got ${String(name)}`);
  return off;
}

/** Ivshmem.list() through `sys` (internal: tests pass a fake sysfs). */
export function listIvshmem(sys: IvshmemSys = ivshmemSys): IvshmemDevice[] {
  return listPci({ vendor: IVSHMEM_VENDOR, device: IVSHMEM_DEVICE }, sys).map((d, index) => {
    const misc = sys.exists(`${d.sysfsPath}/misc`) ? sys.readdir(`${d.sysfsPath}/misc`).find((n) => /^ivshmem\d+$/.test(n)) : undefined;
    return {
      index,
      address: d.address,
      size: Number(d.resources[2]?.size ?? 0n),
      variant: (d.resources[1]?.size ?? 0n) > 0n ? 'doorbell' : 'plain',
      driver: d.driver,
      node: misc === undefined ? null : `/dev/${misc}`,
      sysfsPath: d.sysfsPath,
    };
  });
}

/** Ivshmem.open() through `sys` (internal: tests reach every error path without a device). */
export function openIvshmem(options: OpenOptions = {}, sys: IvshmemSys = ivshmemSys): Ivshmem {
  const opts = checkOpen(options);
  const dev = pick(listIvshmem(sys), opts);
  const viaModule = opts.via === 'module' || (opts.via === 'auto' && dev.node !== null);
  if (viaModule && dev.node === null) {
    throw devmapError(
      'ERR_DEVMAP_NO_MODULE',
      `ivshmem ${dev.address} has no /dev/ivshmemN (bound driver: ${dev.driver ?? 'none'}); ` +
        `load the companion module (insmod ${MODULE_NAME}.ko) or open with via: 'sysfs'`
    );
  }
  windowOf(dev, opts); // refuse a bad window before opening anything
  return new Ivshmem(viaModule ? openModule(dev, opts, sys) : openSysfs(dev, opts, sys));
}
