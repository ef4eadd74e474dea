// Guest side of the host <-> guest example (docs/ivshmem-guide.md), run with
//   devmap guest run --ivshmem /dev/shm/devmap-chat --with examples/ivshmem \
//     -- node examples/ivshmem/guest.mjs
// Maps the ivshmem BAR (the companion module's /dev/ivshmem0, or sysfs),
// answers every line the host sends until "bye".
import { release } from 'node:os';

import { Channel, Ivshmem } from 'devmap';
import { FROM_GUEST, TO_GUEST, attachWhenReady, region } from './layout.mjs';

const shm = Ivshmem.open({ cache: 'wc' });
try {
  console.log(`guest: ${shm.size >> 10} KiB of ivshmem via ${shm.path}, cache ${shm.grantedCache ?? shm.cache}`);
  const rx = await attachWhenReady(Channel, region(shm.memory.bytes, TO_GUEST), 'reader');
  const tx = await attachWhenReady(Channel, region(shm.memory.bytes, FROM_GUEST), 'writer');
  for (;;) {
    const line = new TextDecoder().decode((await rx.recv({ timeoutMs: 60_000 })).data);
    console.log(`guest: host says "${line}"`);
    const answer = line.includes('kernel') ? `Linux ${release()}` : line === 'bye' ? 'bye!' : line.toUpperCase();
    await tx.send(new TextEncoder().encode(answer), { timeoutMs: 10_000 });
    if (line === 'bye') break;
  }
} finally {
  shm.close();
}
