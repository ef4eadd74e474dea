// Mapping: one mmap(2) of a file or device, its views, volatile accessors,
// msync/madvise and unmap (map.ts makes them).
import { native } from './native.js';
import { checkIndex, devmapError, rangeError, systemError, toU64, typeError, withPath } from './errors.js';

const C = native.constants;

/** The system's page size; mapping offsets must be a multiple of it. */
export const PAGE_SIZE = C.PAGE_SIZE;

export type Advice = 'normal' | 'random' | 'sequential' | 'willneed' | 'dontneed' | 'hugepage' | 'nohugepage';

const ADVICE: Record<Advice, number> = {
  normal: C.MADV_NORMAL,
  random: C.MADV_RANDOM,
  sequential: C.MADV_SEQUENTIAL,
  willneed: C.MADV_WILLNEED,
  dontneed: C.MADV_DONTNEED,
  hugepage: C.MADV_HUGEPAGE,
  nohugepage: C.MADV_NOHUGEPAGE,
};

/**
 * A live `MAP_SHARED` mapping. `unmap()` (or `using`) ends it; after that the
 * ArrayBuffer is detached, so every old view has length 0, and every method
 * throws `ERR_DEVMAP_UNMAPPED`. If a mapping is never unmapped, it is
 * unmapped when its ArrayBuffer is garbage-collected -- a safety net only.
 */
export class Mapping {
  readonly path: string;
  readonly offset: bigint;
  readonly length: number;
  readonly writable: boolean;
  #buffer: ArrayBuffer;
  #bytes: Uint8Array;
  #u16: Uint16Array;
  #u32: Uint32Array;
  #closed = false;

  /** @internal use mapFile()/mapFd() */
  constructor(buffer: ArrayBuffer, path: string, offset: bigint, writable: boolean) {
    this.#buffer = buffer;
    this.#bytes = new Uint8Array(buffer);
    // Views for the register reads (whole elements only: a length need not be a multiple of 4).
    this.#u16 = new Uint16Array(buffer, 0, buffer.byteLength >>> 1);
    this.#u32 = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    this.path = path;
    this.offset = offset;
    this.length = buffer.byteLength;
    this.writable = writable;
  }

  /** The mapped bytes (length 0 once unmapped). */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /** The ArrayBuffer over the mapping (detached once unmapped). */
  get buffer(): ArrayBuffer {
    return this.#buffer;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Virtual address of the mapping in this process (see readMaps()). */
  get address(): bigint {
    this.#check();
    return native.address(this.#buffer);
  }

  #check(): void {
    if (this.#closed) throw devmapError('ERR_DEVMAP_UNMAPPED', `mapping of ${this.path} is already unmapped`);
  }

  #reg(offset: number, width: number): ArrayBuffer {
    this.#check();
    checkIndex(offset, 'offset', this.length, width);
    return this.#buffer;
  }

  #value(value: unknown, bits: number): number {
    const max = 2 ** bits - 1;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
      throw rangeError(`value must be an integer in [0, ${max}], got ${String(value)}`);
    }
    return value;
  }

  #writable(): void {
    if (!this.writable) throw devmapError('ERR_DEVMAP_READ_ONLY', `mapping of ${this.path} is read-only (mapped with write: false)`);
  }

  // Register reads up to 32 bits are Atomics.load: exactly one load of that
  // width that the JIT may neither merge, split, hoist nor elide (on x86 a
  // plain mov, on ARM ldr + dmb), without an N-API call. Atomics.load accepts
  // non-shared integer arrays. 64-bit reads and every write go through the
  // addon: Atomics.load of 64 bits is ldrexd on 32-bit ARM (unpredictable on
  // device memory), and Atomics.store is a locked xchg on x86, which device
  // memory need not support.

  /** One 8-bit load. */
  read8(offset: number): number {
    this.#reg(offset, 1);
    return Atomics.load(this.#bytes, offset);
  }

  /** One aligned 16-bit load. */
  read16(offset: number): number {
    this.#reg(offset, 2);
    return Atomics.load(this.#u16, offset >>> 1);
  }

  /** One aligned 32-bit load (a device register read). */
  read32(offset: number): number {
    this.#reg(offset, 4);
    return Atomics.load(this.#u32, offset >>> 2);
  }

  /** One aligned 64-bit load. */
  read64(offset: number): bigint {
    return native.read64(this.#reg(offset, 8), offset);
  }

  write8(offset: number, value: number): void {
    const b = this.#reg(offset, 1);
    this.#writable();
    native.write8(b, offset, this.#value(value, 8));
  }

  write16(offset: number, value: number): void {
    const b = this.#reg(offset, 2);
    this.#writable();
    native.write16(b, offset, this.#value(value, 16));
  }

  /** One aligned 32-bit store (a device register write). */
  write32(offset: number, value: number): void {
    const b = this.#reg(offset, 4);
    this.#writable();
    native.write32(b, offset, this.#value(value, 32));
  }

  write64(offset: number, value: bigint): void {
    const b = this.#reg(offset, 8);
    this.#writable();
    if (typeof value !== 'bigint' || value < 0n || value >= 1n << 64n) {
      throw rangeError(`value must be a bigint in [0, 2^64 - 1], got ${String(value)}`);
    }
    native.write64(b, offset, value);
  }

  #range(offset: number, length: number | undefined): [number, number] {
    this.#check();
    checkIndex(offset, 'offset', this.length + 1);
    const len = length ?? this.length - offset;
    if (!Number.isInteger(len) || len < 0 || offset + len > this.length) {
      throw rangeError(`length must be an integer in [0, ${this.length - offset}], got ${len}`);
    }
    return [offset, len];
  }

  /** msync(2) the given range (default: everything); `async` uses MS_ASYNC. */
  sync(offset = 0, length?: number, { async = false }: { async?: boolean } = {}): void {
    const [o, l] = this.#range(offset, length);
    // msync needs a page-aligned start: widen the range down to its page.
    const start = o - (o % PAGE_SIZE);
    try {
      native.msync(this.#buffer, start, l + (o - start), async ? C.MS_ASYNC : C.MS_SYNC);
    } catch (err) {
      throw withPath(err, this.path);
    }
  }

  /** madvise(2) the given range (default: everything). */
  advise(kind: Advice, offset = 0, length?: number): void {
    const advice = ADVICE[kind];
    if (advice === undefined) throw rangeError(`advice must be one of ${Object.keys(ADVICE).join(', ')}, got ${String(kind)}`);
    const [o, l] = this.#range(offset, length);
    const start = o - (o % PAGE_SIZE);
    try {
      native.madvise(this.#buffer, start, l + (o - start), advice);
    } catch (err) {
      throw withPath(err, this.path);
    }
  }

  /** Ends the mapping. Idempotent: a second call does nothing. */
  unmap(): void {
    if (this.#closed) return;
    this.#closed = true;
    native.munmap(this.#buffer);
  }

  [Symbol.dispose](): void {
    this.unmap();
  }
}
