// The shared-memory channel on real mappings: one memfd mapped twice in this
// process, and shared with a writer in a child process (inherited as fd 3).
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { Channel, HEADER_SIZE } from '../../lib/ipc/channel.js';
import { I } from '../../lib/ipc/layout.js';
import { type Mapping } from '../../lib/mapping.js';
import { child, closeShared, shared } from '../helpers/channel.js';
import { payload as childPayload } from './fixtures/payload.mjs';

const payload = childPayload as (n: number) => Uint8Array;
const writerScript = join(import.meta.dirname, 'fixtures', 'channel-writer.mjs');

afterEach(closeShared);

function pair(size = 4096, capacity?: number): { w: Channel; r: Channel; a: Mapping; b: Mapping; fd: number } {
  const s = shared(size);
  Channel.init(s.a.bytes, capacity === undefined ? {} : { capacity });
  return { ...s, w: Channel.attach(s.a.bytes, 'writer'), r: Channel.attach(s.b.bytes, 'reader') };
}

/** Runs the child writer on `fd`; resolves with its exit code and signal. */
const writer = (fd: number, args: number[]) => child(writerScript, fd, args, 25_000).done;

describe('channel', () => {
  it('carries messages of every size across the ring end, byte for byte, in order', () => {
    const { w, r } = pair(HEADER_SIZE + 1024);
    expect(w.capacity).toBe(1024);
    let sent = 0;
    let got = 0;
    for (let round = 0; round < 200; round++) {
      while (w.trySend(payload(sent))) sent++;
      for (let m = r.tryRecv(); m; m = r.tryRecv()) {
        expect(m.seq).toBe(got + 1);
        expect(m.lost).toBe(0);
        expect(Buffer.from(m.data).equals(Buffer.from(payload(got)))).toBe(true);
        got++;
      }
    }
    expect(got).toBe(sent);
    expect(sent).toBeGreaterThan(1000); // many laps of a 1 KiB ring
    expect(r.tryRecv()).toBeNull();
  });

  it('tryRecvInto: every size across the ring end into one reused buffer, nothing past the message touched', () => {
    const { w, r } = pair(HEADER_SIZE + 1024);
    const target = new Uint8Array(r.maxMessage + 16);
    let sent = 0;
    let got = 0;
    for (let round = 0; round < 200; round++) {
      while (w.trySend(payload(sent))) sent++;
      for (;;) {
        target.fill(0xee);
        const m = r.tryRecvInto(target);
        if (!m) break;
        const want = payload(got);
        expect(m).toEqual({ seq: got + 1, length: want.length, lost: 0 });
        expect(Buffer.from(target.subarray(0, m.length)).equals(Buffer.from(want))).toBe(true);
        expect(target.subarray(m.length).every((b) => b === 0xee)).toBe(true);
        got++;
      }
    }
    expect(got).toBe(sent);
    expect(sent).toBeGreaterThan(1000);
    expect(r.tryRecvInto(target)).toBeNull();
  });

  it('tryRecvInto: a target too small is a RangeError and the message stays; bad targets and the wrong end are refused', () => {
    const { w, r } = pair();
    w.trySend(Buffer.from('twelve bytes'));
    w.trySend(Buffer.from('next'));
    const small = new Uint8Array(11);
    expect(() => r.tryRecvInto(small)).toThrow(RangeError);
    expect(() => r.tryRecvInto(small)).toThrow(/holds 11 bytes but the next message has 12; it stays in the channel/);
    expect(small.every((b) => b === 0)).toBe(true);
    const big = new Uint8Array(12);
    expect(r.tryRecvInto(big)).toEqual({ seq: 1, length: 12, lost: 0 });
    expect(Buffer.from(big).toString()).toBe('twelve bytes');
    expect(Buffer.from(r.tryRecv()!.data).toString()).toBe('next'); // the two receive paths share one position
    expect(() => r.tryRecvInto(new ArrayBuffer(8) as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => r.tryRecvInto(new Uint16Array(8) as unknown as Uint8Array)).toThrow(/target must be a Uint8Array/);
    expect(() => w.tryRecvInto(big)).toThrow(expect.objectContaining({ code: 'ERR_DEVMAP_CHANNEL_ROLE' }));
    r.close();
    expect(() => r.tryRecvInto(big)).toThrow(expect.objectContaining({ code: 'ERR_DEVMAP_CLOSED' }));
  });

  it('recvInto waits for a message, rejects a target too small, and times out clearly', async () => {
    const { w, r } = pair();
    const target = new Uint8Array(64);
    await expect(r.recvInto(target, { timeoutMs: 20 })).rejects.toMatchObject({ code: 'ERR_DEVMAP_TIMEOUT' });
    setTimeout(() => w.trySend(Buffer.from('late')), 20);
    expect(await r.recvInto(target, { timeoutMs: 5000 })).toEqual({ seq: 1, length: 4, lost: 0 });
    expect(Buffer.from(target.subarray(0, 4)).toString()).toBe('late');
    w.trySend(new Uint8Array(65));
    await expect(r.recvInto(target, { timeoutMs: 5000 })).rejects.toThrow(RangeError);
    expect((await r.recvInto(new Uint8Array(65), { timeoutMs: 5000 })).length).toBe(65);
  });

  it('backpressure: trySend returns false when full, send waits for room, or times out', async () => {
    const { w, r } = pair(HEADER_SIZE + 256, 256);
    const msg = new Uint8Array(56).fill(9); // 64-byte records: 4 fill the ring
    for (let i = 0; i < 4; i++) expect(w.trySend(msg)).toBe(true);
    expect(w.trySend(msg)).toBe(false);
    expect(w.pendingBytes).toBe(256);
    await expect(w.send(msg, { timeoutMs: 30 })).rejects.toMatchObject({ code: 'ERR_DEVMAP_TIMEOUT' });
    const waiting = w.send(new Uint8Array(56).fill(7), { timeoutMs: 5000 });
    setTimeout(() => r.tryRecv(), 20);
    await waiting;
    for (let i = 0; i < 3; i++) expect(r.tryRecv()!.data[0]).toBe(9);
    expect(r.tryRecv()!.data[0]).toBe(7);
    expect(() => w.trySend(new Uint8Array(121))).toThrow(/exceeds the channel's maximum of 120/);
  });

  it('recv waits for a message and times out clearly', async () => {
    const { w, r } = pair();
    await expect(r.recv({ timeoutMs: 20 })).rejects.toMatchObject({ code: 'ERR_DEVMAP_TIMEOUT' });
    setTimeout(() => w.trySend(Buffer.from('late')), 20);
    expect(Buffer.from((await r.recv({ timeoutMs: 5000 })).data).toString()).toBe('late');
  });

  it('each end does only its own job', () => {
    const { w, r } = pair();
    expect(() => r.trySend(new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'ERR_DEVMAP_CHANNEL_ROLE' }));
    expect(() => w.tryRecv()).toThrow(expect.objectContaining({ code: 'ERR_DEVMAP_CHANNEL_ROLE' }));
    r.close();
    expect(() => r.tryRecv()).toThrow(expect.objectContaining({ code: 'ERR_DEVMAP_CLOSED' }));
  });

  describe('a corrupt or hostile header is an error, never an out-of-bounds access', () => {
    const corrupt = expect.objectContaining({ code: 'ERR_DEVMAP_CHANNEL_CORRUPT' });
    const i32 = (m: Mapping): Int32Array => new Int32Array(m.buffer);

    it('refuses a region that was never formatted, or a bad version or capacity', () => {
      const { a } = shared(4096);
      expect(() => Channel.attach(a.bytes, 'reader')).toThrow(/no channel here.*Channel\.init/);
      Channel.init(a.bytes);
      i32(a)[I.CAPACITY] = 1 << 20; // bigger than the region
      expect(() => Channel.attach(a.bytes, 'reader')).toThrow(corrupt);
      i32(a)[I.CAPACITY] = 1000; // not a power of two
      expect(() => Channel.attach(a.bytes, 'writer')).toThrow(corrupt);
      Channel.init(a.bytes);
      i32(a)[I.VERSION] = 99;
      expect(() => Channel.attach(a.bytes, 'reader')).toThrow(/version 99/);
      expect(() => Channel.init(a.bytes, { capacity: 8192 })).toThrow(RangeError);
      expect(() => Channel.init(a.bytes.subarray(4))).toThrow(/8-byte aligned/);
    });

    it('refuses head/tail further apart than the ring, and records longer than what is published', () => {
      const { w, r, a } = pair(4096, 1024);
      w.trySend(new Uint8Array(16));
      const h = i32(a);
      h[I.HEAD] = h[I.TAIL]! + 4096;
      expect(() => r.tryRecv()).toThrow(/head - tail = 4096/);
      h[I.HEAD] = 24;
      h[HEADER_SIZE / 4] = 0x7fffffff; // record length
      expect(() => r.tryRecv()).toThrow(/claims 2147483647 bytes but only 16 are published/);
      h[HEADER_SIZE / 4] = 16;
      h[HEADER_SIZE / 4 + 1] = 0; // seq not after the last one read (0)
      expect(() => r.tryRecv()).toThrow(/seq 0, not after 0/);
      h[I.RESERVE] = 50;
      expect(() => Channel.attach(a.bytes, 'writer')).toThrow(/reserved seq 50 is 49 ahead/);
    });
  });

  it('a 1,000-message burst from a writer process, every byte checked', async () => {
    const { fd, b } = shared(HEADER_SIZE + 16384);
    Channel.init(b.bytes);
    const r = Channel.attach(b.bytes, 'reader', { pollMs: 0 });
    const done = writer(fd, [1000]);
    const t0 = performance.now();
    let bytes = 0;
    for (let n = 0; n < 1000; n++) {
      const m = await r.recv({ timeoutMs: 10_000 });
      expect(m.seq).toBe(n + 1);
      expect(Buffer.from(m.data).equals(Buffer.from(payload(n)))).toBe(true);
      bytes += m.data.length;
    }
    const ms = performance.now() - t0;
    expect(await done).toMatchObject({ code: 0, out: 'sent 1000\n' });
    console.log(`channel: 1000 messages (${bytes} bytes) from another process in ${ms.toFixed(1)} ms (incl. its start-up)`);
  });

  it('a writer killed mid-message: the reader gets every whole message, then sees the gap by sequence and recovers', async () => {
    const { fd, b } = shared(HEADER_SIZE + 65536);
    Channel.init(b.bytes);
    const r = Channel.attach(b.bytes, 'reader');
    const killed = await writer(fd, [100, 40]);
    expect(killed.signal).toBe('SIGKILL');
    for (let n = 0; n < 40; n++) {
      const m = r.tryRecv()!;
      expect(m).toMatchObject({ seq: n + 1, lost: 0 });
      expect(Buffer.from(m.data).equals(Buffer.from(payload(n)))).toBe(true);
    }
    expect(r.tryRecv()).toBeNull(); // the half-written message 40 was never published
    // A new writer takes over; it skips the seq the dead one reserved.
    const w2 = Channel.attach(b.bytes, 'writer');
    expect(w2.trySend(Buffer.from('after the crash'))).toBe(true);
    expect(w2.trySend(Buffer.from('and then'))).toBe(true);
    const m = r.tryRecv()!;
    expect(m).toMatchObject({ seq: 42, lost: 1 });
    expect(Buffer.from(m.data).toString()).toBe('after the crash');
    // recvInto reports the gap the same way, and nothing after it.
    const target = new Uint8Array(32);
    expect(r.tryRecvInto(target)).toEqual({ seq: 43, length: 8, lost: 0 });
    expect(Buffer.from(target.subarray(0, 8)).toString()).toBe('and then');
  });
});
