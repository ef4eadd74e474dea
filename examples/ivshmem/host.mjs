// Host side of the host <-> guest example (docs/ivshmem-guide.md):
//   node examples/ivshmem/host.mjs /dev/shm/devmap-chat
// Creates the ivshmem backing file (1 MiB), formats two channels in it,
// sends a few lines to the guest and prints what the guest answers.
// ivshmem-plain has no interrupts, so both sides poll (every 1 ms).
import { existsSync } from 'node:fs';

import { Channel, openHostFile } from 'devmap';
import { FROM_GUEST, TO_GUEST, region } from './layout.mjs';

const file = process.argv[2];
if (!file) throw new Error('usage: node host.mjs /dev/shm/NAME (a file that does not exist yet)');
if (existsSync(file)) throw new Error(`${file} exists; remove it or name a new file, so that no old channel is in it`);
const shm = openHostFile(file, { create: true, size: 1 << 20 });
try {
  Channel.init(region(shm.memory.bytes, TO_GUEST));
  Channel.init(region(shm.memory.bytes, FROM_GUEST));
  const tx = Channel.attach(region(shm.memory.bytes, TO_GUEST), 'writer');
  const rx = Channel.attach(region(shm.memory.bytes, FROM_GUEST), 'reader');
  console.log(`host: channels ready in ${file}; start the guest now`);
  const lines = ['hello from the host', 'what kernel are you running?', 'bye'];
  for (const line of lines) {
    await tx.send(new TextEncoder().encode(line), { timeoutMs: 10_000 });
    // The first answer waits for the guest to boot: give it a minute or two under TCG.
    const answer = await rx.recv({ timeoutMs: 180_000 });
    console.log(`host: guest says "${new TextDecoder().decode(answer.data)}"`);
  }
} finally {
  shm.close();
}
