// The other process of bench/channel.mjs. Maps the memfd it inherits as fd 3:
// two channel regions, [0, HALF) parent -> child and [HALF, 2 HALF) back.
//   read SIZE COUNT   zero-copy reader of COUNT records of SIZE bytes: checks
//                     the first and last byte of each, releases it
//   echo sync|async [SPIN_US]
//                     returns every record it gets, waiting on the futex
//                     between them (spinUs SPIN_US, default 0: sleeping at
//                     once), until a 0-byte record
//   fifo IN OUT       the same echo over two FIFOs, blocking read/write
import { openSync, readSync, writeSync } from 'node:fs';

import { mapFd } from '../dist/map.js';
import { Channel } from '../dist/ipc/channel.js';

const [mode, a, b] = process.argv.slice(2);
const ready = () => process.stdout.write('ready\n');

if (mode === 'fifo') {
  const input = openSync(a, 'r');
  const output = openSync(b, 'w');
  const buf = new Uint8Array(64);
  ready();
  for (let n; (n = readSync(input, buf)) > 0; ) writeSync(output, buf, 0, n);
} else {
  const memory = mapFd(3, 'inherited memfd');
  const half = memory.length / 2;
  const down = memory.bytes.subarray(0, half);
  if (mode === 'read') {
    const size = Number(a);
    const count = Number(b);
    const r = Channel.attach(down, 'reader', { futex: true });
    ready();
    for (let n = 0; n < count; n++) {
      const m = r.tryPeek() ?? r.peekSync({ timeoutMs: 60_000 });
      const d = m.data;
      if (d.length !== size || d[0] !== (n & 255) || d[size - 1] !== (n & 255)) throw new Error(`record ${n} is not what was written`);
      r.release();
    }
  } else {
    const spinUs = Number(b ?? 0);
    const rx = Channel.attach(down, 'reader', { spinUs, futex: true });
    const tx = Channel.attach(memory.bytes.subarray(half), 'writer', { spinUs, futex: true });
    ready();
    for (;;) {
      const m = a === 'sync' ? rx.peekSync({ timeoutMs: 60_000 }) : await rx.peek({ timeoutMs: 60_000 });
      const len = m.data.length;
      tx.tryReserve(len).set(m.data);
      tx.commit();
      rx.release();
      if (len === 0) break;
    }
  }
}
