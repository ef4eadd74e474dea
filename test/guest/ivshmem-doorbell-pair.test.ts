// Two guests on one ivshmem doorbell server, plus the host as a third peer
// (ivshmem-doorbell-pair.host.mjs starts the server, formats the channels
// and plays the host side). The harness runs this file in both guests:
//   DEVMAP_PEER_ROLE   ping | pong
//   DEVMAP_PEER_OTHER  the other guest's peer id (IVPosition)
//   DEVMAP_HOST_PEER   the host peer's id (host <-> guest channel), optional
//   DEVMAP_PAIR_N      ping-pong round trips per wake-up mode (default 200)
// The devices need vectors=2: vector 0 wakes channel readers, vector 1
// takes the doorbell burst.
import { describe, expect, it } from 'vitest';

import { Channel } from '../../lib/channel.js';
import { Ivshmem } from '../../lib/ivshmem.js';

// Shared-memory layout; ivshmem-doorbell-pair.host.mjs mirrors it.
const CH = 64 * 1024;
const REGION = { pingToPong: 0, pongToPing: 1, hostToPing: 2, pingToHost: 3, hostToPong: 4, pongToHost: 5 } as const;
const COUNTERS = 6 * CH; // int32 [0]: burst doorbells rung, [1]: burst seen by the receiver
const BURST = 1000;
const HOST_MESSAGES = 20;

const role = process.env.DEVMAP_PEER_ROLE;
const other = Number(process.env.DEVMAP_PEER_OTHER);
const hostPeer = process.env.DEVMAP_HOST_PEER === undefined ? undefined : Number(process.env.DEVMAP_HOST_PEER);
const N = Number(process.env.DEVMAP_PAIR_N ?? 200);
const bell = Ivshmem.list().find((d) => d.variant === 'doorbell' && d.node !== null);
const why = !bell ? 'no ivshmem-doorbell device with the devmap_ivshmem module' : role !== 'ping' && role !== 'pong' ? 'DEVMAP_PEER_ROLE is not ping or pong' : !Number.isInteger(other) ? 'DEVMAP_PEER_OTHER is not set' : null;

const region = (s: Ivshmem, i: number): Uint8Array => s.memory.bytes.subarray(i * CH, (i + 1) * CH);
const pct = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))]!;
const message = (i: number): Buffer => Buffer.alloc(32 + (i % 97), (i * 31) & 255);

/** Channel ends woken by doorbells (vector 0 of `peer`) or, with `polled`, by polling every loop turn. */
function end(s: Ivshmem, i: number, kind: 'reader' | 'writer', peer: number, polled: boolean): Channel {
  return Channel.attach(region(s, i), kind, polled ? { pollMs: 0 } : { notify: () => s.ring(peer, 0), wait: (ms) => s.waitForInterrupt({ vector: 0, timeoutMs: ms }) });
}

describe.skipIf(why !== null)(`two guests ping-pong over ivshmem-doorbell (${why ?? role})`, () => {
  it('ping-pong N messages woken by interrupts, then polled; every byte checked', { timeout: 240_000 }, async () => {
    using s = Ivshmem.open({ address: bell!.address });
    expect(s.vectors).toBeGreaterThanOrEqual(2);
    for (const polled of [false, true]) {
      const mode = polled ? 'polled' : 'interrupt';
      if (role === 'pong') {
        const rx = end(s, REGION.pingToPong, 'reader', other, polled);
        const tx = end(s, REGION.pongToPing, 'writer', other, polled);
        for (let i = 0; i < N; i++) {
          const m = await rx.recv({ timeoutMs: 120_000 }); // the first waits for ping to boot
          expect(Buffer.from(m.data).equals(message(i))).toBe(true);
          await tx.send(m.data, { timeoutMs: 30_000 });
        }
        continue;
      }
      const tx = end(s, REGION.pingToPong, 'writer', other, polled);
      const rx = end(s, REGION.pongToPing, 'reader', other, polled);
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

  it('a burst of 1,000 doorbells: the count lives in shared memory, interrupts coalesce', { timeout: 120_000 }, async () => {
    using s = Ivshmem.open({ address: bell!.address });
    const counters = new Int32Array(s.memory.buffer, COUNTERS, 2);
    const deadline = Date.now() + 60_000;
    if (role === 'ping') {
      for (let i = 0; i < BURST; i++) {
        Atomics.add(counters, 0, 1);
        s.ring(other, 1);
      }
      while (Atomics.load(counters, 1) !== BURST && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(Atomics.load(counters, 1)).toBe(BURST);
      return;
    }
    let interrupts = 0;
    while (Atomics.load(counters, 0) < BURST && Date.now() < deadline) {
      interrupts += await s.waitForInterrupt({ vector: 1, timeoutMs: 500 }).catch(() => 0);
    }
    expect(Atomics.load(counters, 0)).toBe(BURST);
    expect(interrupts).toBeGreaterThanOrEqual(1);
    expect(interrupts).toBeLessThanOrEqual(BURST);
    console.log(`burst: ${BURST} doorbells arrived as ${interrupts} interrupt(s)`);
    Atomics.store(counters, 1, BURST);
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

  it.skipIf(hostPeer === undefined)('host <-> guest channel, both ways', { timeout: 120_000 }, async () => {
    using s = Ivshmem.open({ address: bell!.address });
    const [down, up] = role === 'ping' ? [REGION.hostToPing, REGION.pingToHost] : [REGION.hostToPong, REGION.pongToHost];
    const rx = end(s, down, 'reader', hostPeer!, false);
    const tx = end(s, up, 'writer', hostPeer!, false);
    for (let i = 0; i < HOST_MESSAGES; i++) {
      const m = await rx.recv({ timeoutMs: 60_000 });
      expect(Buffer.from(m.data).toString()).toBe(`host to ${role} #${i}`);
      await tx.send(Buffer.from(`${role} to host #${i}`), { timeoutMs: 30_000 });
    }
  });
});
