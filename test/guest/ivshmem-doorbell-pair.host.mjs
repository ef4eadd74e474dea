// Host side of ivshmem-doorbell-pair.test.ts, for the harness's two-guest
// doorbell variant. Runs from dist/ (npm run build). The harness:
//   const pair = await start({ dir })        // server + host peer (id 0), channels formatted
//   boot guest "ping" with pair.qemuArgs(0x7) and env pair.env.ping, wait until
//     pair.server.peers() has 2 ids, then boot "pong" with pair.env.pong
//     (ids go 0 host, 1 ping, 2 pong: the server hands them out in order)
//   await pair.finish()                      // after both guests exit, on every path
// finish() checks the host <-> guest conversations and always stops the peer
// and the server (socket and /dev/shm file removed).
import { join } from 'node:path';

import { Channel } from '../../dist/channel.js';
import { connectIvshmemPeer } from '../../dist/ivshmem-peer.js';
import { startIvshmemServer } from '../../dist/ivshmem-server.js';

// Mirrors the layout in ivshmem-doorbell-pair.test.ts.
const CH = 64 * 1024;
const REGION = { hostToPing: 2, pingToHost: 3, hostToPong: 4, pongToHost: 5 };
export const VECTORS = 2;
export const SIZE = 1 << 20;
const HOST_MESSAGES = 20;

const region = (peer, i) => peer.memory.bytes.subarray(i * CH, (i + 1) * CH);

async function converse(host, role, guest, timeoutMs) {
  const [down, up] = role === 'ping' ? [REGION.hostToPing, REGION.pingToHost] : [REGION.hostToPong, REGION.pongToHost];
  const tx = Channel.attach(region(host, down), 'writer', { notify: () => host.ring(guest, 0) });
  // Both conversations wait on the host's vector 0, so one may take the
  // other's wake-up: the channel re-checks every 100 ms, so that costs
  // latency, never a message.
  const rx = Channel.attach(region(host, up), 'reader', { wait: (ms) => host.waitForInterrupt({ vector: 0, timeoutMs: ms }) });
  for (let i = 0; i < HOST_MESSAGES; i++) await tx.send(Buffer.from(`host to ${role} #${i}`), { timeoutMs });
  for (let i = 0; i < HOST_MESSAGES; i++) {
    const text = Buffer.from((await rx.recv({ timeoutMs })).data).toString();
    if (text !== `${role} to host #${i}`) throw new Error(`host <- ${role}: want "${role} to host #${i}", got "${text}"`);
  }
}

/** @param {{ dir: string, timeoutMs?: number }} ctx */
export async function start({ dir, timeoutMs = 300_000 }) {
  const server = await startIvshmemServer({ socket: join(dir, 'ivs.sock'), shm: `devmap-pair-${process.pid}`, size: SIZE, vectors: VECTORS });
  let host;
  try {
    host = await connectIvshmemPeer(server.socket, { vectors: VECTORS });
    for (let i = 0; i < 6; i++) Channel.init(region(host, i));
    host.memory.bytes.fill(0, 6 * CH, 6 * CH + 8); // burst counters
  } catch (err) {
    host?.close();
    await server.close();
    throw err;
  }
  const ids = { ping: host.id + 1, pong: host.id + 2 };
  const env = (role, other) => ({ DEVMAP_PEER_ROLE: role, DEVMAP_PEER_OTHER: String(other), DEVMAP_HOST_PEER: String(host.id) });
  const talk = Promise.all([converse(host, 'ping', ids.ping, timeoutMs), converse(host, 'pong', ids.pong, timeoutMs)]);
  talk.catch(() => {}); // reported by finish()
  return {
    server,
    socket: server.socket,
    env: { ping: env('ping', ids.pong), pong: env('pong', ids.ping) },
    /** QEMU arguments of one guest's doorbell device at PCI slot `addr`. */
    qemuArgs: (addr, id = 'ivs') => ['-chardev', `socket,path=${server.socket},id=${id}`, '-device', `ivshmem-doorbell,chardev=${id},vectors=${VECTORS},addr=0x${addr.toString(16)}`],
    async finish() {
      try {
        await talk;
      } finally {
        host.close();
        await host.released();
        await server.close();
      }
    },
  };
}
