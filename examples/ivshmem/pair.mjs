// Guest <-> guest example (docs/ivshmem-guide.md): two guests on one
// devmap ivshmem-server, each with an ivshmem-doorbell device. Start the
// server on the host, then one guest with `a` and one with `b`:
//   devmap ivshmem-server -s /tmp/devmap-ivs.sock --size 1M -n 1 &
//   devmap guest run --ivshmem-server /tmp/devmap-ivs.sock --with examples/ivshmem -- node examples/ivshmem/pair.mjs b &
//   devmap guest run --ivshmem-server /tmp/devmap-ivs.sock --with examples/ivshmem -- node examples/ivshmem/pair.mjs a
// The guests find each other's peer id in shared memory, then `a` sends
// messages that `b` answers; each side sleeps in waitForInterrupt() until
// the other rings its doorbell (vector 0).
import { Channel, Ivshmem } from 'devmap';
import { FROM_GUEST, RENDEZVOUS, TO_GUEST, attachWhenReady, region } from './layout.mjs';

const role = process.argv[2];
if (role !== 'a' && role !== 'b') throw new Error('usage: node pair.mjs a|b');
const bell = Ivshmem.list().find((d) => d.variant === 'doorbell');
if (!bell) throw new Error('no ivshmem-doorbell device: run the guest with --ivshmem-server SOCKET');
const shm = Ivshmem.open({ address: bell.address });
const slots = new Int32Array(shm.memory.buffer, RENDEZVOUS, 2);
const me = role === 'a' ? 0 : 1;

/** The other guest's peer id, once it has left it in its slot. */
async function otherPeer() {
  const deadline = Date.now() + 180_000; // the other guest may still be booting
  while (Atomics.load(slots, 1 - me) === 0) {
    if (Date.now() > deadline) throw new Error('the other guest did not show up within 3 minutes');
    await new Promise((r) => setTimeout(r, 10));
  }
  return Atomics.load(slots, 1 - me) - 1;
}

try {
  const bytes = shm.memory.bytes;
  if (role === 'a') {
    Channel.init(region(bytes, TO_GUEST));
    Channel.init(region(bytes, FROM_GUEST));
    Atomics.store(slots, me, shm.ivPosition + 1); // after the channels exist
  }
  const other = await otherPeer();
  if (role === 'b') Atomics.store(slots, me, shm.ivPosition + 1);
  console.log(`guest ${role}: peer id ${shm.ivPosition}, the other guest is peer ${other}`);
  const wake = { notify: () => shm.ring(other, 0), wait: (ms) => shm.waitForInterrupt({ vector: 0, timeoutMs: ms }) };
  const [mine, theirs] = role === 'a' ? [TO_GUEST, FROM_GUEST] : [FROM_GUEST, TO_GUEST];
  const tx = await attachWhenReady(Channel, region(bytes, mine), 'writer', wake);
  const rx = await attachWhenReady(Channel, region(bytes, theirs), 'reader', wake);
  const text = (m) => new TextDecoder().decode(m.data);
  if (role === 'a') {
    for (let i = 1; i <= 5; i++) {
      const t0 = performance.now();
      await tx.send(new TextEncoder().encode(`ping ${i}`));
      const back = text(await rx.recv({ timeoutMs: 60_000 }));
      console.log(`guest a: "${back}" after ${(performance.now() - t0).toFixed(1)} ms`);
    }
    await tx.send(new TextEncoder().encode('bye'));
  } else {
    for (;;) {
      const msg = text(await rx.recv({ timeoutMs: 180_000 }));
      if (msg === 'bye') break;
      await tx.send(new TextEncoder().encode(msg.replace('ping', 'pong')));
    }
    console.log('guest b: a said bye');
  }
} finally {
  shm.close();
}
