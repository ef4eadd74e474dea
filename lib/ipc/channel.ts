// A single-producer/single-consumer message ring in shared memory: host <->
// guest over ivshmem, guest <-> guest, or two processes over a memfd.
//
// Mapped memory is an ordinary (non-shared) ArrayBuffer. Atomics.load/store
// accept non-shared integer arrays and V8 compiles them to the same
// sequentially consistent instructions as for a SharedArrayBuffer, which is
// what orders the record bytes before the counter that publishes them, for
// another process as much as another thread. Atomics.wait refuses them, so
// a reader sleeps on a doorbell (`wait`) or polls instead.
import { devmapError, rangeError, typeError } from '../errors.js';
import { HEADER_SIZE, I, checkHeader, corrupt, formatHeader, int32View, recordSize, type ChannelWake } from './layout.js';

export { HEADER_SIZE, type ChannelWake } from './layout.js';

export interface Message {
  /** Sequence number the writer gave it (1, 2, ...; wraps at 2^32). */
  seq: number;
  data: Uint8Array;
  /** Messages lost just before this one: a writer died mid-message (its seq was reserved, never published). */
  lost: number;
}

/** What `tryRecvInto`/`recvInto` took: the payload is in the caller's buffer, `length` bytes from its start. */
export interface Received {
  seq: number;
  length: number;
  lost: number;
}

export type ChannelOptions = ChannelWake;

/** How a writer copies payload bytes into the ring (internal: a test's writer dies half-way through one). */
type Copy = (ring: Uint8Array, data: Uint8Array, at: number) => void;

/** One end of a channel. `Channel.init()` formats a region; both ends then `attach()`. */
export class Channel {
  readonly role: 'reader' | 'writer';
  /** Ring bytes (records: 8-byte header + payload padded to 8). */
  readonly capacity: number;
  /** Largest payload one message can carry. */
  readonly maxMessage: number;
  #i32: Int32Array;
  #ring: Uint8Array;
  #seq: number; // writer: last seq used; reader: last seq consumed
  #o: ChannelOptions;
  #copy: Copy | undefined;
  #closed = false;
  #lost = 0; // reader: of the message #take() took last
  #len = 0;

  /** @internal use Channel.attach() */
  constructor(region: Uint8Array, role: 'reader' | 'writer', o: ChannelOptions, copy?: Copy) {
    this.role = role;
    this.#o = o;
    this.#copy = copy;
    this.#i32 = int32View(region);
    const cap = checkHeader(this.#i32, region.byteLength);
    this.capacity = cap;
    this.maxMessage = cap - 8;
    this.#ring = region.subarray(HEADER_SIZE, HEADER_SIZE + cap);
    this.#used(); // refuses an inconsistent head/tail now, not at the first message
    if (role === 'writer') {
      const wseq = this.#load(I.WSEQ);
      const reserved = this.#load(I.RESERVE);
      // A previous writer that died mid-message left RESERVE one ahead: skip
      // that seq, so the reader sees the gap and reports the message lost.
      const d = (reserved - wseq) >>> 0;
      if (d > 1) throw corrupt(`reserved seq ${reserved >>> 0} is ${d} ahead of the published ${wseq >>> 0}`);
      this.#seq = reserved;
    } else {
      this.#seq = this.#load(I.RSEQ);
    }
  }

  /** Formats `region` as an empty channel with a ring of `capacity` bytes (default: the largest power of two that fits). */
  static init(region: Uint8Array, { capacity }: { capacity?: number } = {}): void {
    formatHeader(region, capacity);
  }

  /** Attaches one end to a formatted region. Throws ERR_DEVMAP_CHANNEL_CORRUPT on a bad header. */
  static attach(region: Uint8Array, role: 'reader' | 'writer', options: ChannelOptions = {}): Channel {
    return attachChannel(region, role, options);
  }

  /** Bytes published and not yet read (record headers and padding included). */
  get pendingBytes(): number {
    return this.#used();
  }

  /** Appends a message; false (nothing written) when the ring lacks room. */
  trySend(data: Uint8Array): boolean {
    this.#check('writer');
    if (!(data instanceof Uint8Array)) throw typeError('data must be a Uint8Array');
    if (data.length > this.maxMessage) throw rangeError(`message of ${data.length} bytes exceeds the channel's maximum of ${this.maxMessage}`);
    const need = recordSize(data.length);
    if (this.capacity - this.#used() < need) {
      Atomics.store(this.#i32, I.WRITER_WAITING, 1);
      if (this.capacity - this.#used() < need) return false; // re-check: the reader may have just freed room
    }
    const head = this.#load(I.HEAD) >>> 0;
    const at = head & (this.capacity - 1);
    const seq = (this.#seq + 1) | 0;
    Atomics.store(this.#i32, I.RESERVE, seq);
    const first = Math.min(data.length, this.capacity - at - 8);
    const copy = this.#copy;
    if (!copy && first === data.length) this.#ring.set(data, at + 8); // the common case: one copy, no views made
    else {
      const c = copy ?? ((r: Uint8Array, d: Uint8Array, o: number) => r.set(d, o));
      if (first > 0) c(this.#ring, data.subarray(0, first), at + 8);
      if (first < data.length) c(this.#ring, data.subarray(first), 0);
    }
    const h = (HEADER_SIZE + at) / 4; // records are 8-aligned, so their header never wraps
    Atomics.store(this.#i32, h, data.length);
    Atomics.store(this.#i32, h + 1, seq);
    Atomics.store(this.#i32, I.WSEQ, seq);
    Atomics.store(this.#i32, I.HEAD, (head + need) | 0); // publishes the record
    this.#seq = seq;
    if (Atomics.load(this.#i32, I.READER_WAITING) !== 0) this.#o.notify?.();
    return true;
  }

  /** Appends a message, waiting for room (backpressure) up to `timeoutMs` (default 10,000). */
  async send(data: Uint8Array, { timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.trySend(data)) await this.#sleep(deadline, 'room to send');
  }

  /** Takes the next message, or null when none is published. */
  tryRecv(): Message | null {
    this.#check('reader');
    const data = this.#take(null);
    return data && { seq: this.#seq >>> 0, data, lost: this.#lost };
  }

  /**
   * Takes the next message into `target` (from its start), or null when none
   * is published: no buffer is allocated per message. A message longer than
   * `target` stays in the channel (RangeError); `maxMessage` bytes always suffice.
   */
  tryRecvInto(target: Uint8Array): Received | null {
    this.#check('reader');
    if (!(target instanceof Uint8Array)) throw typeError('target must be a Uint8Array');
    return this.#take(target) && { seq: this.#seq >>> 0, length: this.#len, lost: this.#lost };
  }

  /** Takes the next message, waiting up to `timeoutMs` (default 10,000). */
  recv({ timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<Message> {
    return this.#recvWith(() => this.tryRecv(), timeoutMs);
  }

  /** `tryRecvInto`, waiting for a message up to `timeoutMs` (default 10,000). */
  recvInto(target: Uint8Array, { timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<Received> {
    return this.#recvWith(() => this.tryRecvInto(target), timeoutMs);
  }

  async #recvWith<T>(take: () => T | null, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = take();
      if (m) return m;
      // Announce the sleep, then look again: a writer that published in
      // between sees the flag and rings; one that published before is seen now.
      Atomics.store(this.#i32, I.READER_WAITING, 1);
      const again = take();
      if (again) {
        Atomics.store(this.#i32, I.READER_WAITING, 0);
        return again;
      }
      try {
        await this.#sleep(deadline, 'a message');
      } finally {
        Atomics.store(this.#i32, I.READER_WAITING, 0);
      }
    }
  }

  /** Detaches this end (the shared memory stays). Idempotent. */
  close(): void {
    this.#closed = true;
  }

  #check(role: 'reader' | 'writer'): void {
    if (this.#closed) throw devmapError('ERR_DEVMAP_CLOSED', `channel ${this.role} is closed`);
    if (this.role !== role) throw devmapError('ERR_DEVMAP_CHANNEL_ROLE', `only the ${role} end may do that; this end is the ${this.role}`);
  }

  #load(index: number): number {
    return Atomics.load(this.#i32, index);
  }

  /**
   * Copies the record at the tail into `into` (or a new array), frees its
   * room and returns that array, leaving its `lost` and length in #lost and
   * #len; null when none is published.
   */
  #take(into: Uint8Array | null): Uint8Array | null {
    const used = this.#used();
    if (used === 0) return null;
    const tail = this.#load(I.TAIL) >>> 0;
    const at = tail & (this.capacity - 1);
    const h = (HEADER_SIZE + at) / 4;
    const len = this.#load(h) >>> 0;
    const seq = this.#load(h + 1);
    if (used < 8 || len > used - 8) throw corrupt(`record at ${at} claims ${len} bytes but only ${Math.max(used - 8, 0)} are published`);
    const lost = (seq - this.#seq - 1) >>> 0;
    if (lost >= 2 ** 31) throw corrupt(`record at ${at} has seq ${seq >>> 0}, not after ${this.#seq >>> 0}: torn or replayed record`);
    if (into && len > into.length) {
      throw rangeError(`target holds ${into.length} bytes but the next message has ${len}; it stays in the channel (a target of maxMessage = ${this.maxMessage} bytes always suffices)`);
    }
    const dest = into ?? new Uint8Array(len);
    const first = Math.min(len, this.capacity - at - 8);
    dest.set(this.#ring.subarray(at + 8, at + 8 + first));
    if (first < len) dest.set(this.#ring.subarray(0, len - first), first);
    this.#seq = seq;
    this.#lost = lost;
    this.#len = len;
    Atomics.store(this.#i32, I.RSEQ, seq);
    Atomics.store(this.#i32, I.TAIL, (tail + recordSize(len)) | 0); // frees the room
    if (Atomics.load(this.#i32, I.WRITER_WAITING) !== 0) {
      Atomics.store(this.#i32, I.WRITER_WAITING, 0);
      this.#o.notify?.();
    }
    return dest;
  }

  /** Published, unread bytes; a hostile head/tail pair is refused here. */
  #used(): number {
    const used = (this.#load(I.HEAD) - this.#load(I.TAIL)) >>> 0;
    if (used > this.capacity || used % 8 !== 0) throw corrupt(`head - tail = ${used}, outside [0, ${this.capacity}] or not 8-aligned`);
    return used;
  }

  /** One bounded slice of waiting: the doorbell, or a poll interval. */
  async #sleep(deadline: number, what: string): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) throw devmapError('ERR_DEVMAP_TIMEOUT', `no ${what} on the channel within the timeout`);
    // Even with a doorbell, wake at least every 100 ms and look: a ring
    // lost to a race (or to a peer that restarted) costs latency, never a hang.
    const slice = Math.min(left, 100);
    if (this.#o.wait) {
      await this.#o.wait(slice).catch((err: { code?: string }) => {
        if (err?.code !== 'ERR_DEVMAP_TIMEOUT') throw err;
      });
    } else {
      const ms = Math.min(slice, this.#o.pollMs ?? 1);
      await new Promise((r) => (ms === 0 ? setImmediate(r) : setTimeout(r, ms)));
    }
  }
}

/** Channel.attach() with the writer's payload copy replaced (internal, for tests that kill a writer mid-message). */
export function attachChannel(region: Uint8Array, role: 'reader' | 'writer', options: ChannelOptions = {}, copy?: Copy): Channel {
  if (role !== 'reader' && role !== 'writer') throw typeError(`role must be 'reader' or 'writer', got ${String(role)}`);
  return new Channel(region, role, options, copy);
}
