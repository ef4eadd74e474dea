// The channel's header in shared memory (all fields 32-bit little-endian).
// Writer-owned and reader-owned counters sit on separate 64-byte cache
// lines so the two ends do not bounce one line between CPUs, and the
// waiting words, which each end reads after every message but which change
// only when an end goes to sleep, share the first line with the fields that
// never change: a line the counters' stores would invalidate on every
// message would cost a cache-line transfer per message at each end.
//
//   0  magic 'DMCH'   4  version   8  capacity (ring bytes, power of two)
//   12 writer waiting for room   16 reader waiting for a message
//   64  head: bytes published (wraps at 2^32)   68  wseq: last published seq
//   72  reserve: seq being written (== wseq when idle)
//   128 tail: bytes consumed   132 rseq: last consumed seq
//   192 ring: records of [len u32][seq u32][payload][pad to 8]
//
// Version 2: a record never wraps around the ring's end, so either end can
// hand out a view of it in place. A writer whose record does not fit before
// the end publishes a pad record there (len 0xffffffff, seq 0) that fills it,
// and writes the record at the ring's start. Version 1 let records wrap.
//
// A sleeping end sets its waiting word and sleeps on it; the other end
// clears it and wakes it (wake.ts).
import { devmapError, rangeError, typeError } from '../errors.js';

export const MAGIC = 0x48434d44; // 'DMCH' little-endian
export const VERSION = 2;
/** `len` of a pad record: skip to the ring's start. */
export const PAD = -1;
export const HEADER_SIZE = 192;

/** Int32Array indexes of the header fields. */
export const I = {
  MAGIC: 0, VERSION: 1, CAPACITY: 2, WRITER_WAITING: 3, READER_WAITING: 4,
  HEAD: 16, WSEQ: 17, RESERVE: 18,
  TAIL: 32, RSEQ: 33,
} as const;

/** How a channel end sleeps and wakes the other end. */
export interface ChannelWake {
  /** Wakes the other end (ring its doorbell). Called only when it said it sleeps. */
  notify?: () => void;
  /** Sleeps until rung or `ms` pass (a timeout may resolve or reject with ERR_DEVMAP_TIMEOUT). */
  wait?: (ms: number) => Promise<unknown>;
  /** Poll every this many ms (0: every event-loop turn, lowest latency, busy). Default 1, unless the memory is a SharedArrayBuffer (Atomics.wait) or `futex` is set. */
  pollMs?: number;
  /** Sleep on a futex: for memory that processes of one kernel share (a memfd, a /dev/shm file no guest writes). */
  futex?: boolean;
  /** How long (µs) a waiting end keeps looking before it sleeps (default 50; 0: sleep at once). */
  spinUs?: number;
}

export const recordSize = (len: number): number => 8 + ((len + 7) & ~7);

/** The largest payload: half the ring less a record header, so an empty ring always has room for one, wherever its head is. */
export const maxMessageOf = (capacity: number): number => capacity / 2 - 8;

export function corrupt(msg: string): Error & { code: string } {
  return devmapError('ERR_DEVMAP_CHANNEL_CORRUPT', `channel header is corrupt: ${msg}`);
}

/** An Int32Array over `region` (which must be 8-aligned and hold the header). */
export function int32View(region: Uint8Array): Int32Array {
  if (!(region instanceof Uint8Array)) throw typeError('region must be a Uint8Array (e.g. mapping.bytes.subarray(...))');
  if (region.byteOffset % 8 !== 0) throw rangeError(`region must start 8-byte aligned, got byte offset ${region.byteOffset}`);
  if (region.byteLength < HEADER_SIZE + 64) throw rangeError(`region must hold at least ${HEADER_SIZE + 64} bytes, got ${region.byteLength}`);
  return new Int32Array(region.buffer, region.byteOffset, Math.floor(region.byteLength / 4));
}

/** Formats `region` as an empty channel with a ring of `capacity` bytes (default: the largest power of two that fits). */
export function formatHeader(region: Uint8Array, capacity?: number): void {
  const i32 = int32View(region);
  const room = region.byteLength - HEADER_SIZE;
  const cap = capacity ?? 2 ** Math.floor(Math.log2(Math.max(room, 1)));
  if (!Number.isInteger(cap) || cap < 64 || cap > 2 ** 30 || (cap & (cap - 1)) !== 0 || cap > room) {
    throw rangeError(`capacity must be a power of two in [64, min(2^30, ${room})] (region of ${region.byteLength} bytes less a ${HEADER_SIZE}-byte header), got ${cap}`);
  }
  i32.fill(0, 0, HEADER_SIZE / 4);
  Atomics.store(i32, I.CAPACITY, cap);
  Atomics.store(i32, I.VERSION, VERSION);
  Atomics.store(i32, I.MAGIC, MAGIC); // last: a half-formatted header has no magic
}

/** The ring capacity of a formatted header; ERR_DEVMAP_CHANNEL_CORRUPT for anything else. */
export function checkHeader(i32: Int32Array, regionBytes: number): number {
  const magic = Atomics.load(i32, I.MAGIC);
  const version = Atomics.load(i32, I.VERSION);
  const cap = Atomics.load(i32, I.CAPACITY) >>> 0;
  if (magic !== MAGIC) throw corrupt(`no channel here (magic 0x${(magic >>> 0).toString(16)}); format the region with Channel.init() first`);
  if (version !== VERSION) {
    throw devmapError(
      'ERR_DEVMAP_CHANNEL_VERSION',
      `channel version ${version}, this devmap speaks ${VERSION} (2: records never wrap, for zero-copy reads); run the same devmap version at both ends, or format the region again with Channel.init()`
    );
  }
  if (cap < 64 || (cap & (cap - 1)) !== 0 || HEADER_SIZE + cap > regionBytes) {
    throw corrupt(`capacity ${cap} is not a power of two in [64, ${regionBytes - HEADER_SIZE}] (the region holds ${regionBytes} bytes)`);
  }
  return cap;
}
