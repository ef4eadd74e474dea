// Host side of ivshmem-doorbell-pair.test.ts on a machine with two guests
// (ping, pong) and an ivshmem server (x86_64-doorbell-pair). The harness
// (lib/harness/session/session.ts) starts the server and boots ping, then pong once
// ping has joined; here the host joins first as a third peer (id 0, so
// ping is 1 and pong 2), formats the channels, talks to both guests, and
// kills the server when ping asks for it. Runs from dist/ (npm run build).
import { Channel } from '../../dist/ipc/channel.js';
import { connectIvshmemPeer } from '../../dist/ivshmem/peer.js';

// Mirrors the layout in ivshmem-doorbell-pair.test.ts.
const CH = 64 * 1024;
const REGION = { hostToPing: 2, pingToHost: 3, hostToPong: 4, pongToHost: 5 };
const CHANNELS = [0, 1, 2, 3, 4, 5, 6];
const BULK = { at: 7 * CH, size: 8 * CH };
const CONTROL = 15 * CH; // int32: [0] burst rung [1] burst seen [2] kill asked [3] server gone (1 seen by the host peer, 2 not) [4] pong listening for the burst [5] ping's peer id + 1 [6] pong's
const ID_SLOT = { ping: 5, pong: 6 };
const HOST_MESSAGES = 20;

const region = (peer, i) => peer.memory.bytes.subarray(i * CH, (i + 1) * CH);

/** The peer id `role` left in shared memory (the server gives ids in the order the QEMUs connect). */
async function peerId(host, role, timeoutMs) {
  const ctl = new Int32Array(host.memory.buffer, CONTROL, 8);
  const deadline = Date.now() + timeoutMs;
  while (Atomics.load(ctl, ID_SLOT[role]) === 0) {
    if (Date.now() > deadline || host.closed) throw new Error(`${role} never left its peer id`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Atomics.load(ctl, ID_SLOT[role]) - 1;
}

async function converse(host, role, timeoutMs) {
  const guest = await peerId(host, role, timeoutMs);
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

/** When ping asks (control[2]), SIGKILL the server; control[3] then says whether the host peer noticed. */
function killOnRequest(host, server, timeoutMs) {
  const ctl = new Int32Array(host.memory.buffer, CONTROL, 4);
  let tick;
  const done = new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    tick = setInterval(async () => {
      if (host.closed) return void clearInterval(tick);
      if (Atomics.load(ctl, 2) !== 1) {
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
      Atomics.store(ctl, 3, ok ? 1 : 2);
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
  for (const i of CHANNELS) Channel.init(region(host, i));
  Channel.init(host.memory.bytes.subarray(BULK.at, BULK.at + BULK.size));
  host.memory.bytes.fill(0, CONTROL, CONTROL + 32);
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
    const ctl = new Int32Array(host.memory.buffer, CONTROL, 8);
    const ids = [Atomics.load(ctl, ID_SLOT.ping) - 1, Atomics.load(ctl, ID_SLOT.pong) - 1];
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
