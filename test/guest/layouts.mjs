// The shared-memory layouts that guest specs (test/guest/*.test.ts, in the
// guest) and their host hooks (*.host.mjs, on the host) agree on, in the one
// module both import: plain ESM with JSDoc types, so Node loads it for the
// hooks and vitest for the specs. Specs that run in the same guest share
// its memory: each layout is carved here, region after region, and checked
// for overlap as this module loads, so no spec can write over another's.

/** @typedef {{ at: number, size: number }} Region */

/** Regions start on 64 KiB boundaries: a window at one maps with any page size up to 64 KiB. */
export const ALIGN = 64 * 1024;

/**
 * Throws unless every region lies within [0, total) and no two overlap.
 * @param {string} what the memory, for the message
 * @param {number} total its bytes
 * @param {Record<string, Region>} regions
 */
export function checkRegions(what, total, regions) {
  const sorted = Object.entries(regions).sort(([, a], [, b]) => a.at - b.at);
  sorted.forEach(([name, r], i) => {
    if (r.at < 0 || r.at + r.size > total) {
      throw new RangeError(`${what}: region ${name} [0x${r.at.toString(16)}, 0x${(r.at + r.size).toString(16)}) is outside its ${total} bytes`);
    }
    const [prev, p] = sorted[i - 1] ?? [];
    if (p && p.at + p.size > r.at) throw new RangeError(`${what}: regions ${prev} and ${name} overlap at 0x${r.at.toString(16)}`);
  });
}

/**
 * Regions of the given sizes, in order from offset 0, each on an ALIGN
 * boundary; throws if they do not fit in `total` bytes.
 * @template {string} K
 * @param {string} what the memory, for messages
 * @param {number} total the least size any machine gives that memory
 * @param {Record<K, number>} sizes
 * @returns {Readonly<Record<K, Readonly<Region>>>}
 */
export function carve(what, total, sizes) {
  /** @type {Record<string, Region>} */
  const out = {};
  let at = 0;
  for (const [name, size] of Object.entries(sizes)) {
    if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`${what}: region ${name} needs a positive size, got ${size}`);
    out[name] = Object.freeze({ at, size });
    at += Math.ceil(size / ALIGN) * ALIGN;
  }
  checkRegions(what, total, out);
  return /** @type {Readonly<Record<K, Readonly<Region>>>} */ (Object.freeze(out));
}

/**
 * The bytes of `r` in a view of the whole memory.
 * @param {Uint8Array} bytes
 * @param {Region} r
 */
export const bytesOf = (bytes, r) => bytes.subarray(r.at, r.at + r.size);

/** Bytes per cache-mode string in PLAIN.cacheModes. */
export const CACHE_SLOT = 0x100;

/**
 * The ivshmem-plain backing file of a single-guest machine (x86_64, its
 * vesa variants, armhf-virt; 1 MiB at least), which every spec in that
 * guest shares.
 *   marker       the harness writes DEVMAP_IVSHMEM_MARKER, NUL-terminated,
 *                before boot (lib/harness/session/session.ts IVSHMEM_MARKER_AT)
 *   basicAnswer  basic.test.ts writes `guest saw MARKER` through sysfs
 *                resource2; basic.host.mjs checks it
 *   cacheModes   ivshmem.test.ts writes `guest-wb|uc|wc MARKER`, one per
 *                CACHE_SLOT bytes (CACHE_MODES); ivshmem.host.mjs checks them
 *   window       ivshmem.test.ts maps a page here (a non-zero offset)
 *   twoDevices   ivshmem.test.ts scratch on each device, when a guest has two
 */
export const PLAIN = carve('the ivshmem-plain backing file', 1 << 20, {
  marker: 4096,
  basicAnswer: 4096,
  cacheModes: 3 * CACHE_SLOT,
  window: 4096,
  twoDevices: 4096,
});

/** The cache modes whose strings PLAIN.cacheModes holds, in this order. */
export const CACHE_MODES = /** @type {const} */ (['wb', 'uc', 'wc']);

/**
 * Where the string of cache mode `mode` goes.
 * @param {'wb' | 'uc' | 'wc'} mode
 */
export const cacheModeAt = (mode) => PLAIN.cacheModes.at + CACHE_MODES.indexOf(mode) * CACHE_SLOT;

/**
 * Int32 words of PAIR.control: the burst counters (rung by ping, seen by
 * pong, pong listening), the server-kill handshake (ping asks; the host hook
 * answers 1 when its peer saw the server die, 2 when it did not), and each
 * guest's peer id + 1 (0: not yet known).
 */
export const PAIR_WORD = Object.freeze({ burstRung: 0, burstSeen: 1, killAsked: 2, serverGone: 3, pongListening: 4, pingId: 5, pongId: 6 });

const CHANNEL = 64 * 1024;

/**
 * The shared memory of x86_64-doorbell-pair's ivshmem server (1 MiB): the
 * guests ping and pong and the host hook as a third peer.
 * ivshmem-doorbell-pair.test.ts and ivshmem-doorbell-pair.host.mjs.
 */
export const PAIR = carve('the doorbell pair shared memory', 1 << 20, {
  pingToPong: CHANNEL,
  pongToPing: CHANNEL,
  hostToPing: CHANNEL,
  pingToHost: CHANNEL,
  hostToPong: CHANNEL,
  pongToHost: CHANNEL,
  /** ping's short-lived writer process -> pong. */
  torn: CHANNEL,
  /** ping -> pong throughput. */
  bulk: 8 * CHANNEL,
  control: Object.keys(PAIR_WORD).length * 4,
});

/** The words where `role` leaves its peer id + 1. */
export const PEER_ID_WORD = Object.freeze({ ping: PAIR_WORD.pingId, pong: PAIR_WORD.pongId });

/**
 * The host <-> guest channels of `role`: `down` host to guest, `up` guest to host.
 * @param {'ping' | 'pong'} role
 */
export const hostChannels = (role) => (role === 'ping' ? { down: PAIR.hostToPing, up: PAIR.pingToHost } : { down: PAIR.hostToPong, up: PAIR.pongToHost });

/** Records each way on a host <-> guest channel (ivshmem-doorbell-pair.test.ts and .host.mjs). */
export const HOST_RECORDS = 20;

/** Length of host <-> guest record `i`: 1 to 2,000 bytes, never a multiple of 8 twice running. */
export const hostRecordLength = (i) => 1 + ((i * 977) % 2000);

/** The byte at `k` of record `i` from `from` to `to` (names: 'host', 'ping', 'pong'). */
const recordByte = (from, to, i, k) => (from.charCodeAt(1) * 31 + to.charCodeAt(1) * 17 + i * 13 + k * 7) & 255;

/**
 * Fills `view` (reserved in place) as record `i` from `from` to `to`.
 * @param {Uint8Array} view @param {string} from @param {string} to @param {number} i
 */
export function fillHostRecord(view, from, to, i) {
  for (let k = 0; k < view.length; k++) view[k] = recordByte(from, to, i, k);
}

/**
 * What is wrong with `data` (peeked in place) as record `i` from `from` to `to`; null when every byte is right.
 * @param {Uint8Array} data @param {string} from @param {string} to @param {number} i
 */
export function hostRecordError(data, from, to, i) {
  if (data.length !== hostRecordLength(i)) return `${from} -> ${to} record ${i}: ${data.length} bytes, want ${hostRecordLength(i)}`;
  for (let k = 0; k < data.length; k++) {
    if (data[k] !== recordByte(from, to, i, k)) return `${from} -> ${to} record ${i}: byte ${k} is ${data[k]}, want ${recordByte(from, to, i, k)}`;
  }
  return null;
}

/**
 * PAIR.control as Int32 words, in a buffer of the whole shared memory.
 * @param {ArrayBufferLike} buffer
 */
export const controlWords = (buffer) => new Int32Array(buffer, PAIR.control.at, PAIR.control.size / 4);
