// The channel's records in place (reserve/commit, peek/release) and its
// sleeping ends over the three kinds of memory a host has: a memfd mapped in
// one process and shared with child processes (futex), a SharedArrayBuffer
// shared with a worker thread (Atomics.wait). ivshmem between VMs (doorbells)
// runs in test/guest/ivshmem-doorbell-pair.test.ts.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';

import { attachChannel, Channel, HEADER_SIZE } from '../../lib/ipc/channel.js';
import { I } from '../../lib/ipc/layout.js';
import { native } from '../../lib/native.js';
import { child, closeShared, shared } from '../helpers/channel.js';
import * as records from './fixtures/record.mjs';

const { checkRecord, fillRecord, recordLength } = records as {
  checkRecord: (v: Uint8Array) => number;
  fillRecord: (v: Uint8Array, n: number, from: number, to: number) => void;
  recordLength: (n: number) => number;
};
const peer = join(import.meta.dirname, 'fixtures', 'channel-peer.mjs');
const thread = join(import.meta.dirname, 'fixtures', 'channel-thread.mjs');
const code = (c: string) => expect.objectContaining({ code: c });
const futex = { futex: true };
const slow = { sliceMs: 60_000 }; // only a wake-up ends a sleep within a test's time
const nextTick = () => new Promise((r) => setTimeout(r, 1));

afterEach(closeShared);

function memfdPair(size: number, capacity?: number) {
  const s = shared(size);
  Channel.init(s.a.bytes, capacity === undefined ? {} : { capacity });
  return { ...s, w: Channel.attach(s.a.bytes, 'writer', futex), r: Channel.attach(s.b.bytes, 'reader', futex) };
}

/** Records n, n+1, ... written in place and read in place until the ring is full, then drained; how many. */
function lap(w: Channel, r: Channel, from: number, ringEnd: number): number {
  let n = from;
  for (let v = w.tryReserve(recordLength(n)); v; v = w.tryReserve(recordLength(n))) {
    fillRecord(v, n++, 0, v.length);
    w.commit();
  }
  for (let m = r.tryPeek(); m; m = r.tryPeek()) {
    expect(checkRecord(m.data)).toBe(from);
    expect(m.seq).toBe(from + 1);
    expect(m.data.byteOffset + m.data.length).toBeLessThanOrEqual(ringEnd); // in place, never across the ring's end
    r.release();
    from++;
  }
  expect(from).toBe(n);
  return n;
}

describe('zero-copy records', () => {
  it('reserve/commit and peek/release: every size, many laps of the ring, byte for byte; records never wrap', () => {
    const { w, r, b } = memfdPair(HEADER_SIZE + 1024);
    expect(w.maxMessage).toBe(504);
    let n = 0;
    for (let round = 0; round < 300; round++) n = lap(w, r, n, b.bytes.byteOffset + HEADER_SIZE + 1024);
    expect(n).toBeGreaterThan(1000);
    w.tryReserve(100)!.fill(3);
    w.commit(40); // commit may shorten what was reserved
    const m = r.tryPeek()!;
    expect(m.data.length).toBe(40);
    expect(m.data.byteOffset).toBeGreaterThanOrEqual(b.bytes.byteOffset + HEADER_SIZE + 8);
    expect(m.data.byteOffset + m.data.length).toBeLessThanOrEqual(b.bytes.byteOffset + HEADER_SIZE + 1024);
    expect(r.tryPeek()).toBe(m); // peek again before release: the same message
    r.release();
    expect(r.tryPeek()).toBeNull();
  });

  it('an empty ring takes a maxMessage record wherever its head is; the copying API shares the records', () => {
    const { w, r } = memfdPair(HEADER_SIZE + 256, 256);
    for (let k = 0; k < 64; k++) {
      expect(w.trySend(new Uint8Array(k % 3))).toBe(true); // moves the head by 8 or 16
      r.tryRecv();
      w.tryReserve(w.maxMessage)!.fill(k);
      w.commit();
      const into = new Uint8Array(w.maxMessage);
      expect(r.tryRecvInto(into)).toMatchObject({ length: 120, seq: 2 * k + 2 });
      expect(into.every((x) => x === k)).toBe(true);
    }
  });

  it('misuse is a Node-style error with a code, and leaves the channel usable', () => {
    const { w, r } = memfdPair(HEADER_SIZE + 256, 256);
    expect(() => w.commit()).toThrow(code('ERR_DEVMAP_CHANNEL_STATE'));
    expect(() => r.release()).toThrow(code('ERR_DEVMAP_CHANNEL_STATE'));
    expect(() => w.tryReserve(121)).toThrow(code('ERR_OUT_OF_RANGE'));
    expect(() => w.tryReserve(121)).toThrow(/exceeds the channel's maximum of 120/);
    for (const bad of [-1, 1.5, NaN, Infinity]) expect(() => w.tryReserve(bad)).toThrow(RangeError);
    expect(() => w.tryReserve('8' as unknown as number)).toThrow(code('ERR_INVALID_ARG_TYPE'));
    w.tryReserve(16)!.fill(1);
    expect(() => w.tryReserve(8)).toThrow(code('ERR_DEVMAP_CHANNEL_STATE'));
    expect(() => w.commit(17)).toThrow(code('ERR_OUT_OF_RANGE'));
    w.commit();
    expect(() => w.commit()).toThrow(/nothing is reserved/); // commit twice
    expect(() => r.tryReserve(1)).toThrow(code('ERR_DEVMAP_CHANNEL_ROLE'));
    expect(() => w.tryPeek()).toThrow(code('ERR_DEVMAP_CHANNEL_ROLE'));
    r.tryPeek();
    r.release();
    expect(() => r.release()).toThrow(/nothing is peeked/); // release twice
    expect(r.tryPeek()).toBeNull();
  });

  it('a reader that died inside release() (RSEQ stored, TAIL not) is finished by the next reader', () => {
    const { w, a, b } = memfdPair(HEADER_SIZE + 256, 256);
    w.trySend(Buffer.from('one'));
    w.trySend(Buffer.from('two'));
    new Int32Array(a.buffer)[I.RSEQ] = 1;
    const m = Channel.attach(b.bytes, 'reader').tryRecv()!;
    expect(m).toMatchObject({ seq: 2, lost: 0 });
    expect(Buffer.from(m.data).toString()).toBe('two');
  });

  describe('a hostile header is an error, never an out-of-bounds access', () => {
    it('records or pad records past the ring end or what is published, and another version', () => {
      const { w, r, a, b } = memfdPair(HEADER_SIZE + 256, 256);
      const h = new Int32Array(a.buffer);
      w.trySend(new Uint8Array(120));
      r.tryRecv(); // the tail is at 128 now
      w.trySend(new Uint8Array(16));
      const rec = (HEADER_SIZE + 128) / 4;
      h[rec] = 200; // published (head - tail = 256), but it would run past the ring's end
      h[I.HEAD] = 128 + 256;
      expect(() => r.tryPeek()).toThrow(code('ERR_DEVMAP_CHANNEL_CORRUPT'));
      expect(() => r.tryPeek()).toThrow(/record at 128 claims 200 bytes but only 120/);
      h[rec] = -1; // a pad record that runs past what is published
      h[I.HEAD] = 128 + 24;
      expect(() => Channel.attach(b.bytes, 'reader').tryPeek()).toThrow(/pad record at 128 runs past the 24 bytes published/);
      h[I.HEAD] = 128 + 7;
      expect(() => Channel.attach(a.bytes, 'reader')).toThrow(/head - tail = 7/);
      Channel.init(a.bytes);
      h[I.VERSION] = 1; // a version-1 header (records that wrap): refused, not misread
      expect(() => Channel.attach(a.bytes, 'reader')).toThrow(code('ERR_DEVMAP_CHANNEL_VERSION'));
      expect(() => Channel.attach(a.bytes, 'writer')).toThrow(/channel version 1, this devmap speaks 2/);
    });

    it('an unmapped region is an error; the futex calls check their word', () => {
      const { w, r, a, b } = memfdPair(HEADER_SIZE + 256, 256);
      a.unmap();
      expect(() => w.tryReserve(8)).toThrow(code('ERR_DEVMAP_CLOSED'));
      const buf = b.buffer;
      expect(() => native.futexWake(buf, 2)).toThrow(/4-byte aligned/);
      expect(() => native.futexWake(buf, buf.byteLength)).toThrow(RangeError);
      expect(() => native.futexWaitSync(buf, -4, 0, 1)).toThrow(RangeError);
      expect(native.futexWaitSync(buf, I.HEAD * 4, 12345, 1000)).toBe('not-equal');
      b.unmap();
      expect(() => native.futexWake(buf, 0)).toThrow(/unmapped/);
      expect(() => native.futexWait(buf, 0, 0, 1)).toThrow(RangeError);
      expect(() => r.tryPeek()).toThrow(code('ERR_DEVMAP_CLOSED'));
    });
  });
});

describe('sleeping ends', () => {
  it('waits by the memory: futex on a mapping, Atomics.wait on a SharedArrayBuffer, doorbell hooks, polling', () => {
    const { a } = shared(4096);
    Channel.init(a.bytes);
    const sab = new Uint8Array(new SharedArrayBuffer(4096));
    Channel.init(sab);
    expect(Channel.attach(a.bytes, 'reader', futex).waitsBy).toBe('futex');
    expect(Channel.attach(a.bytes, 'reader').waitsBy).toBe('poll'); // a mapping's other end may be a guest: no futex unless asked
    expect(Channel.attach(sab, 'reader').waitsBy).toBe('atomics');
    expect(Channel.attach(a.bytes, 'reader', { wait: async () => {} }).waitsBy).toBe('doorbell');
    expect(Channel.attach(new Uint8Array(sab.buffer), 'reader', { pollMs: 0 }).waitsBy).toBe('poll');
    expect(() => Channel.attach(a.bytes, 'reader', { wait: async () => {} }).peekSync({ timeoutMs: 10 })).toThrow(code('ERR_DEVMAP_CHANNEL_WAKE'));
  });

  it('a reader asleep on a futex is woken by one commit from another process', async () => {
    const { fd, b } = shared(HEADER_SIZE + 4096);
    Channel.init(b.bytes);
    let slept = 0;
    const r = attachChannel(b.bytes, 'reader', { spinUs: 0, futex: true }, { ...slow, onSleep: () => slept++ });
    const w = child(peer, fd, ['wake-writer']);
    const m = await r.peek({ timeoutMs: 40_000 });
    expect(checkRecord(m.data)).toBe(7);
    expect(slept).toBe(1); // one sleep, ended by the commit's wake (its slice is 60 s)
    expect(await w.done).toMatchObject({ code: 0 });
  });

  it('a process blocked in peekSync is woken by one commit', async () => {
    const { fd, a } = shared(HEADER_SIZE + 4096);
    Channel.init(a.bytes);
    const w = Channel.attach(a.bytes, 'writer', futex);
    const r = child(peer, fd, ['sync-reader']);
    const i32 = new Int32Array(a.buffer);
    while (Atomics.load(i32, I.READER_WAITING) === 0) await nextTick();
    const v = w.tryReserve(recordLength(9))!;
    fillRecord(v, 9, 0, v.length);
    w.commit();
    expect(await r.done).toMatchObject({ code: 0, out: '9\n' });
  });

  it('a reader asleep in Atomics.waitAsync is woken by one commit on a worker thread', async () => {
    const sab = new SharedArrayBuffer(HEADER_SIZE + 4096);
    Channel.init(new Uint8Array(sab));
    let slept = 0;
    const r = attachChannel(new Uint8Array(sab), 'reader', { spinUs: 0 }, { ...slow, onSleep: () => slept++ });
    const worker = new Worker(thread, { workerData: { sab, count: 1, wake: true } });
    const m = await r.peek({ timeoutMs: 40_000 });
    expect(checkRecord(m.data)).toBe(0);
    expect(slept).toBe(1);
    await new Promise((res) => worker.on('exit', res));
  });

  it('a waiting end spins for spinUs before it sleeps: a record that comes sooner finds it awake, none sleeps with 0', async () => {
    for (const [spinUs, sleeps] of [[5_000_000, false], [0, true]] as const) {
      const sab = new SharedArrayBuffer(HEADER_SIZE + 4096);
      Channel.init(new Uint8Array(sab));
      let slept = 0;
      const r = attachChannel(new Uint8Array(sab), 'reader', { spinUs }, { ...slow, onSleep: () => slept++ });
      const worker = new Worker(thread, { workerData: { sab, count: 1, wake: false, delayMs: 50 } });
      const exited = new Promise((res) => worker.on('exit', res));
      worker.postMessage('go'); // queued until the worker listens: the record comes 50 ms after its start
      const m = r.peekSync({ timeoutMs: 40_000 });
      expect(checkRecord(m.data)).toBe(0);
      expect({ spinUs, slept: slept > 0 }).toEqual({ spinUs, slept: sleeps });
      expect(await exited).toBe(0);
    }
  });

  it('threads: 20,000 records from a worker over a SharedArrayBuffer, every byte checked in place', { timeout: 60_000 }, async () => {
    const sab = new SharedArrayBuffer(HEADER_SIZE + 8192);
    Channel.init(new Uint8Array(sab));
    const r = attachChannel(new Uint8Array(sab), 'reader', {}, slow);
    const worker = new Worker(thread, { workerData: { sab, count: 20_000, wake: false } });
    const exited = new Promise((res) => worker.on('exit', res));
    for (let n = 0; n < 20_000; n++) {
      const m = await r.peek({ timeoutMs: 40_000 });
      if (checkRecord(m.data) !== n || m.seq !== n + 1 || m.lost !== 0) throw new Error(`record ${n}: got ${checkRecord(m.data)} seq ${m.seq}`);
      r.release();
    }
    expect(await exited).toBe(0);
    expect(r.tryPeek()).toBeNull();
  });

  it('no wake-up lost: 100,000 records between two processes, both sleeping on the futex at random', { timeout: 120_000 }, async () => {
    const { fd, b } = shared(HEADER_SIZE + 2048); // a small ring: the writer waits for room often
    Channel.init(b.bytes);
    let slept = 0;
    const r = attachChannel(b.bytes, 'reader', { spinUs: 0, futex: true }, { ...slow, onSleep: () => slept++ });
    const w = child(peer, fd, ['burst-writer', 100_000, 12345], 110_000);
    const nap = new Int32Array(new SharedArrayBuffer(4));
    let seed = 777;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 2 ** 24;
    for (let n = 0; n < 100_000; n++) {
      const m = await r.peek({ timeoutMs: 100_000 });
      if (checkRecord(m.data) !== n || m.seq !== n + 1) throw new Error(`record ${n}: got ${checkRecord(m.data)} seq ${m.seq}`);
      r.release();
      if (rand() < 0.002) Atomics.wait(nap, 0, 0, rand() * 3);
    }
    const done = await w.done;
    expect(done.code).toBe(0);
    const writerSlept = Number(/slept (\d+)/.exec(done.out)![1]);
    console.log(`futex burst: the reader slept ${slept} times, the writer ${writerSlept}`);
    expect(slept).toBeGreaterThan(0);
    expect(writerSlept).toBeGreaterThan(0);
  });
});

/** step() every event-loop turn, until a random time (under 200 ms) after started() first holds: a kill lands anywhere. */
async function forAWhile(started: () => boolean, step: () => void): Promise<void> {
  let until = Infinity;
  while (Date.now() < until) {
    if (until === Infinity && started()) until = Date.now() + Math.random() * 200;
    step();
    await nextTick();
  }
}

describe('processes killed at random points', () => {
  it('a writer killed anywhere: the reader sees only whole records, in order, then a new writer goes on', { timeout: 90_000 }, async () => {
    const { fd, b } = shared(HEADER_SIZE + 8192);
    Channel.init(b.bytes);
    const r = attachChannel(b.bytes, 'reader', futex, slow);
    let lost = 0;
    let seen = 0;
    let next = 0;
    /** Reads what is published: each record whole, or not published at all, and in order. */
    const drain = () => {
      for (let m = r.tryPeek(); m; m = r.tryPeek()) {
        expect(checkRecord(m.data)).toBe(next++);
        lost += m.lost;
        r.release();
      }
    };
    for (let round = 0; round < 8; round++) {
      const start = round * 1_000_000;
      const w = child(peer, fd, ['writer', start, 0]);
      next = start;
      await forAWhile(() => next > start, drain);
      w.kill();
      expect((await w.done).signal).toBe('SIGKILL');
      drain();
      seen += next - start;
    }
    expect(seen).toBeGreaterThan(8);
    expect(lost).toBeLessThanOrEqual(8); // at most the record each dead writer had reserved
  });

  it('a reader killed anywhere: the next reader gets every record exactly once, whole', { timeout: 90_000 }, async () => {
    const { fd, a } = shared(HEADER_SIZE + 4096);
    Channel.init(a.bytes);
    const w = attachChannel(a.bytes, 'writer', futex, slow);
    let sent = 0;
    let got = 0;
    for (let round = 0; round < 8; round++) {
      const r = child(peer, fd, ['reader']);
      await forAWhile(
        () => r.out() !== '',
        () => {
          for (let v = w.tryReserve(recordLength(sent)); v; v = w.tryReserve(recordLength(sent))) {
            fillRecord(v, sent++, 0, v.length);
            w.commit();
          }
        }
      );
      r.kill();
      const { signal, out } = await r.done;
      expect(signal).toBe('SIGKILL');
      const ns = out.split('\n').filter(Boolean).map(Number);
      // What it released is gone; what it only peeked comes again to the next reader.
      expect(ns).toEqual(Array.from({ length: ns.length }, (_, i) => got + i));
      const rseq = new Int32Array(a.buffer)[I.RSEQ]!;
      expect(rseq).toBeGreaterThanOrEqual(got + ns.length);
      expect(rseq).toBeLessThanOrEqual(got + ns.length + 1); // killed between release() and its print
      got = rseq;
    }
    const r = attachChannel(a.bytes, 'reader', futex, slow);
    for (let m = r.tryPeek(); m; m = r.tryPeek()) {
      expect(checkRecord(m.data)).toBe(got++);
      r.release();
    }
    expect(got).toBe(sent);
  });
});
