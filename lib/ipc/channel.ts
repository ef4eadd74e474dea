// A single-producer/single-consumer message ring in shared memory: host <->
// guest over ivshmem, guest <-> guest, two processes over a memfd or a
// /dev/shm file, or two threads over a SharedArrayBuffer.
//
// Records are used in place: the writer reserves one and fills the view it
// gets, then commits; the reader peeks at one and releases it. The copying
// send/recv are built on those. Each end caches the other's counter and
// reloads it only when the ring looks full (writer) or empty (reader), so a
// message costs one atomic store and one atomic load at each end.
//
// Mapped memory is an ordinary (non-shared) ArrayBuffer. Atomics.load/store
// accept non-shared integer arrays and V8 compiles them to the same
// sequentially consistent instructions as for a SharedArrayBuffer, which is
// what orders the record bytes before the counter that publishes them, for
// another process as much as another thread. How a waiting end sleeps is in
// wake.ts.
import { devmapError, rangeError, typeError } from '../errors.js';
import { HEADER_SIZE, I, PAD, checkHeader, corrupt, formatHeader, int32View, maxMessageOf, recordSize, type ChannelWake } from './layout.js';
import { sleeperFor, Waiting } from './wake.js';

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

/** Internal knobs: how a writer copies payload bytes (a test's writer dies half-way), the longest single sleep, a call before each sleep. */
export interface ChannelInternals {
  copy?: (view: Uint8Array, data: Uint8Array) => void;
  sliceMs?: number;
  onSleep?: () => void;
}

const state = (msg: string): Error => devmapError('ERR_DEVMAP_CHANNEL_STATE', msg);

function checkLength(n: unknown, max: number, what: string): number {
  if (typeof n !== 'number') throw typeError(`${what} must be a number, got ${typeof n}`);
  if (!Number.isInteger(n) || n < 0) throw rangeError(`${what} must be an integer in [0, ${max}] (bytes), got ${n}`);
  if (n > max) throw rangeError(`${what} of ${n} bytes exceeds the channel's maximum of ${max}`);
  return n;
}

/** One end of a channel. `Channel.init()` formats a region; both ends then `attach()`. */
export class Channel {
  readonly role: 'reader' | 'writer';
  /** Ring bytes (records: 8-byte header + payload padded to 8). */
  readonly capacity: number;
  /** Largest payload one message can carry: half the ring less a record header. */
  readonly maxMessage: number;
  #i32: Int32Array;
  #ring: Uint8Array;
  #waiting: Waiting;
  #in: ChannelInternals;
  #seq: number; // writer: last seq used; reader: last seq consumed
  #head: number; // the writer's own; the reader's last look at it
  #tail: number; // the reader's own; the writer's last look at it
  #closed = false;
  #heldAt = -1; // ring offset of the reserved (writer) or peeked (reader) record; -1: none
  #heldLen = 0;
  #heldPad = 0; // writer: bytes of pad record before the reserved one
  #held: Message | null = null;

  /** @internal use Channel.attach() */
  constructor(region: Uint8Array, role: 'reader' | 'writer', o: ChannelOptions, internals: ChannelInternals) {
    this.role = role;
    this.#in = internals;
    this.#i32 = int32View(region);
    const [mine, theirs] = role === 'reader' ? [I.READER_WAITING, I.WRITER_WAITING] : [I.WRITER_WAITING, I.READER_WAITING];
    this.#waiting = new Waiting(this.#i32, mine, theirs, sleeperFor(this.#i32, o), {
      spinUs: o.spinUs ?? 50,
      sliceMs: internals.sliceMs ?? 100,
      onSleep: internals.onSleep,
      what: role === 'reader' ? 'message' : 'room to send',
    });
    const cap = checkHeader(this.#i32, region.byteLength);
    this.capacity = cap;
    this.maxMessage = maxMessageOf(cap);
    this.#ring = region.subarray(HEADER_SIZE, HEADER_SIZE + cap);
    this.#head = this.#load(I.HEAD);
    this.#tail = this.#load(I.TAIL);
    this.#sync(); // refuses an inconsistent head/tail now, not at the first message
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
      // A reader that died inside release() stored RSEQ but not TAIL: the
      // record at the tail is the one it released. Finish that release.
      const used = this.#sync();
      const h = (HEADER_SIZE + (this.#tail & (cap - 1))) / 4;
      const len = this.#i32[h]!;
      if (used >= 8 && len !== PAD && this.#i32[h + 1] === this.#seq && recordSize(len >>> 0) <= used) this.#free(recordSize(len >>> 0));
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

  /** How this end sleeps: 'doorbell' (`wait`/`notify`), 'atomics' (SharedArrayBuffer), 'futex' (other memory) or 'poll'. */
  get waitsBy(): 'doorbell' | 'atomics' | 'futex' | 'poll' {
    return this.#waiting.sleeper.kind;
  }

  /** Bytes published and not yet read (record headers and padding included). */
  get pendingBytes(): number {
    return this.#sync();
  }

  /**
   * Reserves room for an `n`-byte message and returns a view of it in the
   * ring to fill in place; `commit()` publishes it. Null when the ring lacks room.
   */
  tryReserve(n: number): Uint8Array | null {
    this.#check('writer');
    if (this.#heldAt >= 0) throw state('a record is already reserved: commit() it before reserving the next');
    checkLength(n, this.maxMessage, 'reservation');
    const need = recordSize(n);
    const at = this.#head & (this.capacity - 1);
    const pad = this.capacity - at < need ? this.capacity - at : 0; // records never wrap
    if (this.capacity - ((this.#head - this.#tail) >>> 0) < pad + need && this.capacity - this.#sync() < pad + need) return null;
    this.#i32[I.RESERVE] = (this.#seq + 1) | 0; // a writer dying before commit() leaves this one ahead
    this.#heldAt = pad ? 0 : at;
    this.#heldLen = n;
    this.#heldPad = pad;
    return this.#ring.subarray(this.#heldAt + 8, this.#heldAt + 8 + n);
  }

  /** tryReserve, waiting for room (backpressure) up to `timeoutMs` (default 10,000). */
  reserve(n: number, { timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<Uint8Array> {
    return this.#waiting.until(() => this.tryReserve(n), timeoutMs);
  }

  /** tryReserve, blocking this thread while it waits (not with a doorbell: its wait is asynchronous). */
  reserveSync(n: number, { timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Uint8Array {
    return this.#waiting.untilSync(() => this.tryReserve(n), timeoutMs);
  }

  /** Publishes the reserved record, `length` bytes of it (default: all it reserved). */
  commit(length: number = this.#heldLen): void {
    this.#check('writer');
    if (this.#heldAt < 0) throw state('nothing is reserved: call reserve() first, and commit() each reservation once');
    checkLength(length, this.#heldLen, 'commit length');
    const i32 = this.#i32;
    const seq = (this.#seq + 1) | 0;
    if (this.#heldPad) {
      const p = (HEADER_SIZE + this.capacity - this.#heldPad) / 4;
      i32[p] = PAD;
      i32[p + 1] = 0;
    }
    const h = (HEADER_SIZE + this.#heldAt) / 4;
    i32[h] = length;
    i32[h + 1] = seq;
    i32[I.WSEQ] = seq;
    this.#head = (this.#head + this.#heldPad + recordSize(length)) | 0;
    Atomics.store(i32, I.HEAD, this.#head); // publishes the record (and orders every store above before it)
    this.#seq = seq;
    this.#heldAt = -1;
    this.#waiting.wakeOther();
  }

  /** Appends a copy of `data`; false (nothing written) when the ring lacks room. */
  trySend(data: Uint8Array): boolean {
    this.#check('writer');
    if (!(data instanceof Uint8Array)) throw typeError('data must be a Uint8Array');
    const view = this.tryReserve(checkLength(data.length, this.maxMessage, 'message'));
    if (!view) return false;
    if (this.#in.copy) this.#in.copy(view, data);
    else view.set(data);
    this.commit();
    return true;
  }

  /** Appends a message, waiting for room (backpressure) up to `timeoutMs` (default 10,000). */
  async send(data: Uint8Array, { timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<void> {
    await this.#waiting.until(() => this.trySend(data) || null, timeoutMs);
  }

  /**
   * The next message in place: `data` is a view of the ring, valid until
   * `release()` (after that the writer may overwrite it). Null when none is
   * published. Peeking again before `release()` returns the same message.
   */
  tryPeek(): Message | null {
    this.#check('reader');
    if (this.#held) return this.#held;
    for (;;) {
      let used = (this.#head - this.#tail) >>> 0;
      if (used === 0 && (used = this.#sync()) === 0) return null;
      const at = this.#tail & (this.capacity - 1);
      const h = (HEADER_SIZE + at) / 4;
      const len = this.#i32[h]!;
      if (len === PAD) {
        if (this.capacity - at > used) throw corrupt(`pad record at ${at} runs past the ${used} bytes published`);
        this.#free(this.capacity - at);
        continue;
      }
      if (used < 8 || len < 0 || len > used - 8 || at + 8 + len > this.capacity) {
        throw corrupt(`record at ${at} claims ${len >>> 0} bytes but only ${Math.max(Math.min(used, this.capacity - at) - 8, 0)} are published`);
      }
      const seq = this.#i32[h + 1]!;
      const lost = (seq - this.#seq - 1) >>> 0;
      if (lost >= 2 ** 31) throw corrupt(`record at ${at} has seq ${seq >>> 0}, not after ${this.#seq >>> 0}: torn or replayed record`);
      this.#heldAt = at;
      this.#heldLen = len;
      return (this.#held = { seq: seq >>> 0, data: this.#ring.subarray(at + 8, at + 8 + len), lost });
    }
  }

  /** tryPeek, waiting for a message up to `timeoutMs` (default 10,000). */
  peek({ timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<Message> {
    return this.#waiting.until(() => this.tryPeek(), timeoutMs);
  }

  /** tryPeek, blocking this thread while it waits (not with a doorbell: its wait is asynchronous). */
  peekSync({ timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Message {
    return this.#waiting.untilSync(() => this.tryPeek(), timeoutMs);
  }

  /** Frees the peeked message's room; its view must not be used after this. */
  release(): void {
    this.#check('reader');
    const m = this.#held;
    if (!m) throw state('nothing is peeked: call peek() first, and release() each peeked message once');
    this.#seq = m.seq | 0;
    this.#i32[I.RSEQ] = this.#seq;
    this.#held = null;
    this.#heldAt = -1;
    this.#free(recordSize(this.#heldLen));
  }

  /** Takes a copy of the next message, or null when none is published. */
  tryRecv(): Message | null {
    const m = this.tryPeek();
    if (!m) return null;
    const out = { seq: m.seq, data: m.data.slice(), lost: m.lost };
    this.release();
    return out;
  }

  /**
   * Takes the next message into `target` (from its start), or null when none
   * is published: no buffer is allocated per message. A message longer than
   * `target` stays in the channel (RangeError); `maxMessage` bytes always suffice.
   */
  tryRecvInto(target: Uint8Array): Received | null {
    this.#check('reader');
    if (!(target instanceof Uint8Array)) throw typeError('target must be a Uint8Array');
    const m = this.tryPeek();
    if (!m) return null;
    if (m.data.length > target.length) {
      this.#held = null; // not taken: the next peek finds it again
      this.#heldAt = -1;
      throw rangeError(`target holds ${target.length} bytes but the next message has ${m.data.length}; it stays in the channel (a target of maxMessage = ${this.maxMessage} bytes always suffices)`);
    }
    target.set(m.data);
    this.release();
    return { seq: m.seq, length: m.data.length, lost: m.lost };
  }

  /** Takes the next message, waiting up to `timeoutMs` (default 10,000). */
  recv({ timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<Message> {
    return this.#waiting.until(() => this.tryRecv(), timeoutMs);
  }

  /** `tryRecvInto`, waiting for a message up to `timeoutMs` (default 10,000). */
  recvInto(target: Uint8Array, { timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<Received> {
    return this.#waiting.until(() => this.tryRecvInto(target), timeoutMs);
  }

  /** Detaches this end (the shared memory stays). Idempotent. */
  close(): void {
    this.#closed = true;
  }

  #check(role: 'reader' | 'writer'): void {
    if (this.#closed) throw devmapError('ERR_DEVMAP_CLOSED', `channel ${this.role} is closed`);
    if (this.role !== role) throw devmapError('ERR_DEVMAP_CHANNEL_ROLE', `only the ${role} end may do that; this end is the ${this.role}`);
    if (this.#i32.length === 0) throw devmapError('ERR_DEVMAP_CLOSED', `the channel ${this.role}'s memory was unmapped; attach to a mapped region again`);
  }

  #load(index: number): number {
    return Atomics.load(this.#i32, index);
  }

  /** Reloads the other end's counter and returns the bytes published and unread; a hostile head/tail pair is refused here. */
  #sync(): number {
    const writer = this.role === 'writer';
    const head = writer ? this.#head : this.#load(I.HEAD);
    const tail = writer ? this.#load(I.TAIL) : this.#tail;
    const used = (head - tail) >>> 0;
    if (used > this.capacity || used % 8 !== 0) throw corrupt(`head - tail = ${used}, outside [0, ${this.capacity}] or not 8-aligned`);
    if (writer) this.#tail = tail;
    else this.#head = head;
    return used;
  }

  /** Reader: frees `bytes` at the tail. */
  #free(bytes: number): void {
    this.#tail = (this.#tail + bytes) | 0;
    Atomics.store(this.#i32, I.TAIL, this.#tail);
    this.#waiting.wakeOther();
  }
}

/** Channel.attach() with internal knobs (for tests that kill a writer mid-message or must see a lost wake-up hang). */
export function attachChannel(region: Uint8Array, role: 'reader' | 'writer', options: ChannelOptions = {}, internals: ChannelInternals = {}): Channel {
  if (role !== 'reader' && role !== 'writer') throw typeError(`role must be 'reader' or 'writer', got ${String(role)}`);
  return new Channel(region, role, options, internals);
}
