// Host side of ivshmem-doorbell-pair.test.ts on a machine with two guests
// (ping, pong) and an ivshmem server (x86_64-doorbell-pair). The harness
// (lib/harness/session/session.ts) starts the server and runs before()
// before either guest boots: the host joins as a third peer, formats the
// channels and clears the control words. The guests then boot side by side
// and join in whatever order their QEMUs connect, so nobody assumes a peer
// id: each guest leaves its own (IVPosition) in shared memory, and the host
// reads both there before it talks to them. It kills the server when ping
// asks for it; after() checks that both guests joined as the ids they left.
// The layout is layouts.mjs PAIR. Runs from dist/ (npm run compile).
import { Channel } from '../../dist/ipc/channel.js';
import { connectIvshmemPeer } from '../../dist/ivshmem/peer.js';
import { bytesOf, controlWords, fillHostRecord, HOST_RECORDS, hostChannels, hostRecordError, hostRecordLength, PAIR, PAIR_WORD, PEER_ID_WORD } from './layouts.mjs';

const CHANNELS = [PAIR.pingToPong, PAIR.pongToPing, PAIR.hostToPing, PAIR.pingToHost, PAIR.hostToPong, PAIR.pongToHost, PAIR.torn, PAIR.bulk];

/** The peer id `role` left in shared memory (the server gives ids in the order the QEMUs connect). */
async function peerId(host, role, timeoutMs) {
  const ctl = controlWords(host.memory.buffer);
  const deadline = Date.now() + timeoutMs;
  while (Atomics.load(ctl, PEER_ID_WORD[role]) === 0) {
    if (Date.now() > deadline || host.closed) throw new Error(`${role} never left its peer id`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Atomics.load(ctl, PEER_ID_WORD[role]) - 1;
}

async function converse(host, role, timeoutMs) {
  const guest = await peerId(host, role, timeoutMs);
  const { down, up } = hostChannels(role);
  const tx = Channel.attach(bytesOf(host.memory.bytes, down), 'writer', { notify: () => host.ring(guest, 0) });
  // Both conversations wait on the host's vector 0, so one may take the
  // other's wake-up: the channel re-checks every 100 ms, so that costs
  // latency, never a message.
  const rx = Channel.attach(bytesOf(host.memory.bytes, up), 'reader', { wait: (ms) => host.waitForInterrupt({ vector: 0, timeoutMs: ms }) });
  // Zero-copy both ways: records filled in place in the host's mapping of
  // the shared memory, read in place, every byte checked (layouts.mjs).
  for (let i = 0; i < HOST_RECORDS; i++) {
    fillHostRecord(await tx.reserve(hostRecordLength(i), { timeoutMs }), 'host', role, i);
    tx.commit();
  }
  for (let i = 0; i < HOST_RECORDS; i++) {
    const wrong = hostRecordError((await rx.peek({ timeoutMs })).data, role, 'host', i);
    if (wrong) throw new Error(`host <- ${role}: ${wrong}`);
    rx.release();
  }
}

/** When ping asks (killAsked), SIGKILL the server; serverGone then says whether the host peer noticed. */
function killOnRequest(host, server, timeoutMs) {
  const ctl = controlWords(host.memory.buffer);
  let tick;
  const done = new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    tick = setInterval(async () => {
      if (host.closed) return void clearInterval(tick);
      if (Atomics.load(ctl, PAIR_WORD.killAsked) !== 1) {
        if (Date.now() > deadline) (clearInterval(tick), reject(new Error('ping never asked for the server to be killed')));
        return;
      }
      clearInterval(tick);
      const noticed = new Promise((r) => {
        if (!host.connected) return r(true);
        host.once('server-closed', () => r(true));
        setTimeout(() => r(false), 10_000);
      });
      await server.kill();
      const ok = await noticed;
      Atomics.store(ctl, PAIR_WORD.serverGone, ok ? 1 : 2);
      if (ok) resolve();
      else reject(new Error('the host peer did not report the killed server within 10 s'));
    }, 20);
  });
  return { done, stop: () => clearInterval(tick) };
}

let pair;

/** @param {import('../../dist/harness/session/session.js').HookContext} ctx */
export async function before(ctx) {
  if (!ctx.server || !ctx.roles.includes('ping') || !ctx.roles.includes('pong')) return {};
  const host = await connectIvshmemPeer(ctx.server.socket, { vectors: ctx.server.vectors });
  for (const r of CHANNELS) Channel.init(bytesOf(host.memory.bytes, r));
  bytesOf(host.memory.bytes, PAIR.control).fill(0);
  const joins = [];
  host.on('peer-joined', (id) => joins.push(id));
  const timeoutMs = 300_000;
  const killer = killOnRequest(host, ctx.server, timeoutMs);
  const work = Promise.all([converse(host, 'ping', timeoutMs), converse(host, 'pong', timeoutMs), killer.done]);
  work.catch(() => {}); // reported by after()
  pair = { host, joins, work, killer };
  return { DEVMAP_HOST_PEER: String(host.id) };
}

/** Checks the host <-> guest conversations and the server kill; always leaves the server. */
export async function after() {
  if (!pair) return;
  const { host, joins, work, killer } = pair;
  pair = undefined;
  try {
    // Both guests joined, each once, as the ids they reported.
    const ctl = controlWords(host.memory.buffer);
    const ids = [Atomics.load(ctl, PEER_ID_WORD.ping) - 1, Atomics.load(ctl, PEER_ID_WORD.pong) - 1];
    const order = (xs) => [...xs].sort((a, b) => a - b).join();
    if (order(joins) !== order(ids)) throw new Error(`guests joined as ${joins.join()}; they reported ping ${ids[0]}, pong ${ids[1]}`);
    // The guests have ended: whatever is still pending failed.
    await Promise.race([work, new Promise((_, reject) => setTimeout(() => reject(new Error('host conversations still pending after the guests ended')), 5000))]);
  } finally {
    killer.stop();
    host.close();
    await host.released();
  }
}
