// DmaBuffer and the checks of a transfer's arguments (the struct itself is
// in abi.ts). Pure apart from DmaBuffer's mapping, so host tests can drive
// every check without a device.
import type { Mapping } from '../mapping.js';
import { devmapError, rangeError, typeError } from '../errors.js';
import { EDU_BUF_MAX, EDU_TIMEOUT_MAX_MS, EDU_WINDOW, type Transfer } from './abi.js';

export interface TransferOptions {
  /** Byte offset into the buffer. Default 0. */
  offset?: number;
  /** Byte offset into the device's memory, in [0, 4094]. Default 0. */
  deviceOffset?: number;
  /** Bytes to move, >= 1; the range must fit in the buffer and in the device's 4095-byte window. */
  length: number;
  /** Give up after this many milliseconds (1-60000); the driver's default is 1000. */
  timeoutMs?: number;
}

function int(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw typeError(`${name} must be a number, got ${value === null ? 'null' : typeof value}`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw rangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

/** Checks a buffer size for allocDma(): an integer in [1, 4 MiB]. */
export function checkDmaSize(size: unknown): number {
  return int(size, 'size', 1, EDU_BUF_MAX);
}

/**
 * Checks transfer options against a buffer of `bufferSize` bytes and the
 * device window, naming the option and its accepted range, exactly as the
 * driver would refuse them (EINVAL) -- but before anything reaches it.
 */
export function checkTransfer(options: unknown, bufferSize: number): Transfer {
  if (options === null || typeof options !== 'object') throw typeError('options must be an object with at least { length }');
  const o = options as Partial<TransferOptions>;
  const offset = int(o.offset ?? 0, 'offset', 0, bufferSize - 1);
  const deviceOffset = int(o.deviceOffset ?? 0, 'deviceOffset', 0, EDU_WINDOW - 1);
  if (o.length === undefined) throw typeError('length is required (bytes to transfer)');
  const max = Math.min(bufferSize - offset, EDU_WINDOW - deviceOffset);
  const why = max === bufferSize - offset ? `the buffer has ${bufferSize} bytes` : `the device window ends at ${EDU_WINDOW}`;
  if (typeof o.length === 'number' && Number.isInteger(o.length) && o.length > max) {
    throw rangeError(`length must be an integer in [1, ${max}] for offset ${offset} and deviceOffset ${deviceOffset} (${why}), got ${o.length}`);
  }
  const length = int(o.length, 'length', 1, max);
  const timeoutMs = o.timeoutMs === undefined ? 0 : int(o.timeoutMs, 'timeoutMs', 1, EDU_TIMEOUT_MAX_MS);
  return { offset, deviceOffset, length, timeoutMs };
}

/**
 * A coherent DMA buffer of the edu driver, mapped into this process. The
 * device reads and writes `bytes` directly. `free()` (or `using`) unmaps it
 * and gives it back; the kernel frees the memory once no mapping is left, so
 * freeing, or closing the Edu first, never pulls memory from under a view.
 */
export class DmaBuffer {
  /** Driver's buffer id (its mmap offset is id << 24). */
  readonly id: number;
  /** Bytes, rounded up to whole pages. */
  readonly size: number;
  /** Bus address the device uses (a physical address: QEMU's pc has no IOMMU by default). */
  readonly dmaAddress: bigint;
  /** @internal the Edu that allocated it: ids are per open file */
  readonly owner: object;
  #mapping: Mapping;
  #release: (id: number) => void;
  #freed = false;

  /** @internal use Edu.allocDma() */
  constructor(owner: object, id: number, dmaAddress: bigint, mapping: Mapping, release: (id: number) => void) {
    this.owner = owner;
    this.id = id;
    this.size = mapping.length;
    this.dmaAddress = dmaAddress;
    this.#mapping = mapping;
    this.#release = release;
  }

  /** The buffer's bytes (length 0 once freed). */
  get bytes(): Uint8Array {
    return this.#mapping.bytes;
  }

  /** Virtual address of the mapping in this process (see readMaps()). */
  get address(): bigint {
    this.check();
    return this.#mapping.address;
  }

  get freed(): boolean {
    return this.#freed;
  }

  /** @internal */
  check(): void {
    if (this.#freed) throw devmapError('ERR_DEVMAP_FREED', `DMA buffer ${this.id} is already freed`);
  }

  /** Unmaps and frees the buffer. Idempotent. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#mapping.unmap();
    this.#release(this.id);
  }

  [Symbol.dispose](): void {
    this.free();
  }
}
