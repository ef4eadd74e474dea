// Per-vector interrupt latches shared by the guest device (a bitmask per
// read() of /dev/ivshmemN) and the host peer (one eventfd per vector).
// Interrupts coalesce -- QEMU's spec says so and eventfds add up -- so a
// wait resolves with "at least one since the last wait", plus the count
// when the source knows it. Exact message counts belong in shared memory.
import { devmapError, rangeError } from '../errors.js';

export interface WaitOptions {
  /** MSI-X vector (guest) or eventfd index (host peer). Default 0. */
  vector?: number;
  /** Reject with ERR_DEVMAP_TIMEOUT after this many ms. Default 10,000. */
  timeoutMs?: number;
}

interface Waiter {
  vector: number;
  resolve(count: number): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class VectorLatch {
  readonly vectors: number;
  #counts: number[];
  #waiters = new Set<Waiter>();
  #error: Error | null = null;

  constructor(vectors: number) {
    this.vectors = vectors;
    this.#counts = new Array<number>(vectors).fill(0);
  }

  get waiting(): number {
    return this.#waiters.size;
  }

  /** Records `count` interrupts on `vector` and wakes its waiters. */
  fire(vector: number, count = 1): void {
    if (vector < 0 || vector >= this.vectors || count <= 0) return;
    this.#counts[vector]! += count;
    const ws = [...this.#waiters].filter((w) => w.vector === vector);
    if (ws.length === 0) return;
    const n = this.#counts[vector]!;
    this.#counts[vector] = 0;
    for (const w of ws) this.#settle(w).resolve(n);
  }

  /** Resolves with the interrupts counted on the vector since the last wait (>= 1). */
  wait(options: WaitOptions = {}): Promise<number> {
    const { vector = 0, timeoutMs = 10_000 } = options;
    if (!Number.isInteger(vector) || vector < 0 || vector >= this.vectors) {
      return Promise.reject(rangeError(`vector must be an integer in [0, ${this.vectors - 1}], got ${vector}`));
    }
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > 2 ** 31 - 1) {
      return Promise.reject(rangeError(`timeoutMs must be an integer in [0, 2147483647], got ${timeoutMs}`));
    }
    if (this.#error) return Promise.reject(this.#error);
    const pending = this.#counts[vector]!;
    if (pending > 0) {
      this.#counts[vector] = 0;
      return Promise.resolve(pending);
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        vector, resolve, reject,
        timer: setTimeout(() => this.#settle(w).reject(devmapError('ERR_DEVMAP_TIMEOUT', `no interrupt on vector ${vector} within ${timeoutMs} ms`)), timeoutMs),
      };
      this.#waiters.add(w);
    });
  }

  /** Rejects every waiter, now and later, with `err`. */
  close(err: Error): void {
    this.#error ??= err;
    for (const w of [...this.#waiters]) this.#settle(w).reject(err);
  }

  #settle(w: Waiter): Waiter {
    clearTimeout(w.timer);
    this.#waiters.delete(w);
    return w;
  }
}

/**
 * Feeds a latch from a source that yields bitmasks (read() of /dev/ivshmemN).
 * At most one read is in flight, and only while someone waits; a read left
 * over after a timeout still lands in the latch for the next wait.
 */
export class MaskPump {
  readonly latch: VectorLatch;
  #read: () => Promise<bigint>;
  #inFlight = false;

  constructor(vectors: number, read: () => Promise<bigint>) {
    this.latch = new VectorLatch(vectors);
    this.#read = read;
  }

  wait(options: WaitOptions = {}): Promise<number> {
    const p = this.latch.wait(options);
    this.#pump();
    return p;
  }

  #pump(): void {
    if (this.#inFlight || this.latch.waiting === 0) return;
    this.#inFlight = true;
    this.#read().then(
      (mask) => {
        this.#inFlight = false;
        // 0n: the device was closed (its CANCEL ioctl ends every read).
        if (mask === 0n) return this.latch.close(devmapError('ERR_DEVMAP_CLOSED', 'the ivshmem device was closed while waiting for an interrupt'));
        for (let v = 0; v < this.latch.vectors; v++) if ((mask >> BigInt(v)) & 1n) this.latch.fire(v);
        this.#pump();
      },
      (err: Error) => {
        this.#inFlight = false;
        this.latch.close(err);
      }
    );
  }
}
