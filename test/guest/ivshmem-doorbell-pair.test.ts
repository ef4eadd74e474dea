// Two guests on one ivshmem doorbell server, plus the host as a third peer
// (ivshmem-doorbell-pair.host.mjs starts the server, formats the channels
// and plays the host side). The harness runs this file in both guests:
//   DEVMAP_GUEST_ROLE  ping | pong (machine.guests)
//   DEVMAP_HOST_PEER   the host peer's id (host <-> guest channel), optional
//   DEVMAP_PAIR_N      ping-pong round trips per wake-up mode (default 200)
// Peer ids are the server's to give (in the order the QEMUs connect), so the
// guests do not assume them: each leaves its own (IVPosition) in shared
// memory and reads the other's; the host hook reads both. The shared-memory
// layout is layouts.mjs PAIR, which the host hook imports too.
// The devices need vectors=2: vector 0 wakes channel readers, vector 1
// takes the doorbell burst. The tests run in this order in both guests and
// meet at each step; the server is killed (at ping's request) before the
// last two, which therefore run without it.
import { spawn } from 'node:child_process';
import { beforeAll, expect, it } from 'vitest';

import { Channel } from '../../lib/ipc/channel.js';
import { Ivshmem } from '../../lib/ivshmem/device.js';
import { needs, skipIf } from './helpers/devices.js';
import { bytesOf, controlWords, fillHostRecord, HOST_RECORDS, hostChannels, hostRecordError, hostRecordLength, PAIR, PAIR_WORD, PEER_ID_WORD, type Region } from './layouts.mjs';

const BULK_BYTES = 8 << 20;
const BULK_MESSAGE = 16 << 10;
const BURST = 1000;

const role = process.env.DEVMAP_GUEST_ROLE;
let other = -1; // the other guest's peer id, from the rendezvous in beforeAll
const hostPeer = process.env.DEVMAP_HOST_PEER === undefined ? undefined : Number(process.env.DEVMAP_HOST_PEER);
const N = Number(process.env.DEVMAP_PAIR_N ?? 200);
/** The host hook (ivshmem-doorbell-pair.host.mjs) is a peer only on a machine with an ivshmem server and both roles. */
const noHostPeer = skipIf(hostPeer === undefined, 'no host peer (DEVMAP_HOST_PEER): the host hook joins only with an ivshmem server and both roles');
const bell = Ivshmem.list().find((d) => d.variant === 'doorbell' && d.node !== null);
const noRole = role !== 'ping' && role !== 'pong';
const pct = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))]!;
const message = (i: number): Buffer => Buffer.alloc(32 + (i % 97), (i * 31) & 255);

/** Channel ends woken by doorbells (vector 0 of `peer`) or, with `polled`, by polling every loop turn. */
function end(s: Ivshmem, r: Region, kind: 'reader' | 'writer', peer: number, polled: boolean): Channel {
  return Channel.attach(bytesOf(s.memory.bytes, r), kind, polled ? { pollMs: 0 } : { notify: () => s.ring(peer, 0), wait: (ms) => s.waitForInterrupt({ vector: 0, timeoutMs: ms }) });
}

needs('doorbell', bell !== undefined).describe(`two guests ping-pong over ivshmem-doorbell (${role ?? 'no role'})`, () => {
  beforeAll(async () => {
    expect(noRole, 'DEVMAP_GUEST_ROLE must be ping or pong (machine.guests)').toBe(false);
    using s = Ivshmem.open({ address: bell!.address });
    expect(s.memory.length, 'the shared memory is smaller than layouts.mjs PAIR').toBeGreaterThanOrEqual(PAIR.control.at + PAIR.control.size);
    const ids = controlWords(s.memory.buffer);
    const [mine, theirs] = role === 'ping' ? [PEER_ID_WORD.ping, PEER_ID_WORD.pong] : [PEER_ID_WORD.pong, PEER_ID_WORD.ping];
    Atomics.store(ids, mine, s.ivPosition + 1);
    const deadline = Date.now() + 150_000; // the other guest may still be booting
    while (Atomics.load(ids, theirs) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    other = Atomics.load(ids, theirs) - 1;
    expect(other, 'the other guest never left its peer id').toBeGreaterThanOrEqual(0);
    expect(other).not.toBe(s.ivPosition);
  }, 180_000);

  it('ping-pong N messages woken by interrupts, then polled; every byte checked', { timeout: 240_000 }, async () => {
    using s = Ivshmem.open({ address: bell!.address });
    expect(s.vectors).toBeGreaterThanOrEqual(2);
    for (const polled of [false, true]) {
      const mode = polled ? 'polled' : 'interrupt';
      if (role === 'pong') {
        const rx = end(s, PAIR.pingToPong, 'reader', other, polled);
        const tx = end(s, PAIR.pongToPing, 'writer', other, polled);
        for (let i = 0; i < N; i++) {
          const m = await rx.recv({ timeoutMs: 120_000 }); // the first waits for ping to boot
          expect(Buffer.from(m.data).equals(message(i))).toBe(true);
          await tx.send(m.data, { timeoutMs: 30_000 });
        }
        continue;
      }
      const tx = end(s, PAIR.pingToPong, 'writer', other, polled);
      const rx = end(s, PAIR.pongToPing, 'reader', other, polled);
      const rtt: number[] = [];
      for (let i = 0; i < N; i++) {
        const t0 = performance.now();
        await tx.send(message(i), { timeoutMs: 30_000 });
        const back = await rx.recv({ timeoutMs: 120_000 });
        rtt.push(performance.now() - t0);
        expect(back.lost).toBe(0);
        expect(Buffer.from(back.data).equals(message(i))).toBe(true);
      }
      // Round trip 0 includes waiting for the other guest to boot: leave it out.
      const r = rtt.slice(1);
      console.log(`guest ping-pong (${mode}): p50 ${(pct(r, 0.5) * 1000).toFixed(0)} us, p99 ${(pct(r, 0.99) * 1000).toFixed(0)} us over ${r.length} round trips`);
    }
  });

  it('a burst of 1,000 doorbells: the count lives in shared memory, interrupts coalesce', { timeout: 300_000 }, async () => {
    using s = Ivshmem.open({ address: bell!.address });
    // rung, seen (by pong), pong is listening: the two guests run their
    // specs unsynchronised, so ping rings only once pong has the device
    // open (interrupts before that are not pong's to count).
    const counters = controlWords(s.memory.buffer);
    const { burstRung, burstSeen, pongListening } = PAIR_WORD;
    const deadline = Date.now() + 240_000;
    const until = async (cond: () => boolean) => {
      while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    };
    if (role === 'ping') {
      await until(() => Atomics.load(counters, pongListening) === 1);
      expect(Atomics.load(counters, pongListening), 'pong never started listening').toBe(1);
      for (let i = 0; i < BURST; i++) {
        Atomics.add(counters, burstRung, 1);
        s.ring(other, 1);
      }
      await until(() => Atomics.load(counters, burstSeen) === BURST);
      expect(Atomics.load(counters, burstSeen)).toBe(BURST);
      return;
    }
    let interrupts = 0;
    const first = s.waitForInterrupt({ vector: 1, timeoutMs: 120_000 });
    Atomics.store(counters, pongListening, 1);
    interrupts += await first;
    while (Atomics.load(counters, burstRung) < BURST && Date.now() < deadline) {
      interrupts += await s.waitForInterrupt({ vector: 1, timeoutMs: 500 }).catch(() => 0);
    }
    expect(Atomics.load(counters, burstRung)).toBe(BURST);
    expect(interrupts).toBeGreaterThanOrEqual(1);
    expect(interrupts).toBeLessThanOrEqual(BURST);
    console.log(`burst: ${BURST} doorbells arrived as ${interrupts} interrupt(s)`);
    Atomics.store(counters, burstSeen, BURST);
  });

  it('a doorbell to an absent peer does not hang, and the device still works afterwards', async () => {
    using s = Ivshmem.open({ address: bell!.address });
    const t0 = performance.now();
    s.ring(4242, 0); // QEMU drops it: no such peer
    s.ring(other, 63); // no such vector
    expect(performance.now() - t0).toBeLessThan(1000);
    const own = s.waitForInterrupt({ vector: 1, timeoutMs: 10_000 });
    s.ring(s.ivPosition, 1);
    expect(await own).toBeGreaterThanOrEqual(1);
  });

  it('a writer process killed mid-message: the reader sees the gap by sequence and recovers', { timeout: 300_000 }, async () => {
    using s = Ivshmem.open({ address: bell!.address });
    if (role === 'ping') {
      // A second process writes 5 messages and dies (SIGKILL) copying the 6th.
      const child = spawn(process.execPath, ['--input-type=module', '-e', tornWriter(bell!.address)], { stdio: ['ignore', 'inherit', 'inherit'] });
      const signal = await new Promise((r) => child.once('exit', (_c, sig) => r(sig)));
      expect(signal).toBe('SIGKILL');
      // A new writer takes over: it skips the seq the dead one reserved.
      await end(s, PAIR.torn, 'writer', other, false).send(Buffer.from('after the crash'));
      return;
    }
    const rx = end(s, PAIR.torn, 'reader', other, false);
    for (let i = 0; i < 5; i++) {
      const m = await rx.recv({ timeoutMs: 60_000 });
      expect(m).toMatchObject({ seq: i + 1, lost: 0 });
      expect(Buffer.from(m.data).equals(message(i))).toBe(true);
    }
    const m = await rx.recv({ timeoutMs: 60_000 });
    expect(m).toMatchObject({ seq: 7, lost: 1 });
    expect(Buffer.from(m.data).toString()).toBe('after the crash');
  });

  it('channel throughput: 8 MiB in 16 KiB messages, polled, every byte checked', { timeout: 180_000 }, async () => {
    using s = Ivshmem.open({ address: bell!.address });
    const bulk = bytesOf(s.memory.bytes, PAIR.bulk);
    const chunk = (i: number): Buffer => Buffer.alloc(BULK_MESSAGE, (i * 7 + 1) & 255);
    const n = BULK_BYTES / BULK_MESSAGE;
    if (role === 'ping') {
      const tx = Channel.attach(bulk, 'writer', { pollMs: 0 });
      for (let i = 0; i < n; i++) await tx.send(chunk(i), { timeoutMs: 120_000 });
      return;
    }
    const rx = Channel.attach(bulk, 'reader', { pollMs: 0 });
    const first = await rx.recv({ timeoutMs: 120_000 }); // waits for ping: not timed
    expect(Buffer.from(first.data).equals(chunk(0))).toBe(true);
    const t0 = performance.now();
    for (let i = 1; i < n; i++) {
      const m = await rx.recv({ timeoutMs: 60_000 });
      expect(m.lost).toBe(0);
      expect(Buffer.from(m.data).equals(chunk(i))).toBe(true);
    }
    const ms = performance.now() - t0;
    console.log(`guest channel throughput (polled, checked): ${(((n - 1) * BULK_MESSAGE) / (1 << 20) / (ms / 1000)).toFixed(1)} MiB/s, ${n - 1} messages of ${BULK_MESSAGE / 1024} KiB in ${ms.toFixed(0)} ms`);
  });

  it('the server killed mid-run: the host peer reports it, guests keep ringing each other', { timeout: 180_000, ...noHostPeer }, async () => {
    using s = Ivshmem.open({ address: bell!.address });
    const ctl = controlWords(s.memory.buffer);
    if (role === 'ping') Atomics.store(ctl, PAIR_WORD.killAsked, 1);
    const deadline = Date.now() + 90_000;
    while (Atomics.load(ctl, PAIR_WORD.serverGone) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(Atomics.load(ctl, PAIR_WORD.serverGone)).toBe(1); // 2: the host peer did not notice; 0: nobody killed it
    // Guest <-> guest doorbells need no server once both have joined.
    const [mine, theirs] = role === 'ping' ? [PAIR.pingToPong, PAIR.pongToPing] : [PAIR.pongToPing, PAIR.pingToPong];
    const tx = end(s, mine, 'writer', other, false);
    const rx = end(s, theirs, 'reader', other, false);
    for (let i = 0; i < 20; i++) {
      await tx.send(message(i), { timeoutMs: 30_000 });
      expect(Buffer.from((await rx.recv({ timeoutMs: 30_000 })).data).equals(message(i))).toBe(true);
    }
  });

  it('host <-> guest channel, zero-copy both ways, every byte checked', { timeout: 120_000, ...noHostPeer }, async () => {
    using s = Ivshmem.open({ address: bell!.address });
    const { down, up } = hostChannels(role as 'ping' | 'pong');
    const rx = end(s, down, 'reader', hostPeer!, false);
    const tx = end(s, up, 'writer', hostPeer!, false);
    for (let i = 0; i < HOST_RECORDS; i++) {
      const m = await rx.peek({ timeoutMs: 60_000 }); // in place, in the BAR
      expect(hostRecordError(m.data, 'host', role!, i)).toBeNull();
      expect(m.lost).toBe(0);
      rx.release();
      fillHostRecord(await tx.reserve(hostRecordLength(i), { timeoutMs: 30_000 }), role!, 'host', i);
      tx.commit();
    }
  });
});

/** A writer process that sends 5 messages on the PAIR.torn channel and is killed copying the 6th. */
function tornWriter(address: string): string {
  const lib = (f: string): string => JSON.stringify(new URL(`../../dist/${f}`, import.meta.url).href);
  return `
    import { attachChannel } from ${lib('ipc/channel.js')};
    import { Ivshmem } from ${lib('ivshmem/device.js')};
    const s = Ivshmem.open({ address: ${JSON.stringify(address)} });
    const message = (i) => Buffer.alloc(32 + (i % 97), (i * 31) & 255);
    const region = s.memory.bytes.subarray(${PAIR.torn.at}, ${PAIR.torn.at + PAIR.torn.size});
    let n = 0;
    const copy = (view, data) => {
      if (n === 5) { view.set(data.subarray(0, data.length >> 1)); process.kill(process.pid, 'SIGKILL'); }
      view.set(data);
    };
    const w = attachChannel(region, 'writer', { pollMs: 1 }, { copy });
    for (; n < 6; n++) w.trySend(message(n));
  `;
}
