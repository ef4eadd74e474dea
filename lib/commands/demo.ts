// `devmap demo`: the main job. Host-side for now: two mappings of one
// /dev/shm file and a memfd, showing shared writes and the kernel's view.
import { closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';

import { mapFd, mapFile, PAGE_SIZE } from '../mapping.js';
import { findVma, readMaps } from '../maps.js';
import { memfd } from '../memfd.js';
import { vmaLine } from './map.js';

function hostDemo(): void {
  const shm = `/dev/shm/devmap-demo-${process.pid}`;
  writeFileSync(shm, new Uint8Array(4 * PAGE_SIZE));
  try {
    using a = mapFile(shm);
    using b = mapFile(shm, { offset: PAGE_SIZE, length: PAGE_SIZE });
    const text = Buffer.from(`hello from pid ${process.pid}`);
    a.bytes.set(text, PAGE_SIZE);
    console.log(`1. mapped ${shm} twice: all ${a.length} bytes, and page 1 alone`);
    console.log(`   wrote "${text}" through the first mapping at offset ${PAGE_SIZE}`);
    console.log(`   the second mapping reads "${Buffer.from(b.bytes.subarray(0, text.length))}"`);
    console.log(`   the file (read(2)) has "${readFileSync(shm).subarray(PAGE_SIZE, PAGE_SIZE + text.length)}"`);
    a.write32(0, 0xc0ffee);
    console.log(`2. write32(0, 0xc0ffee) then read32(0) = 0x${a.read32(0).toString(16)} (one aligned 32-bit store/load)`);
    const fd = memfd('devmap-demo', PAGE_SIZE);
    try {
      using m = mapFd(fd, 'memfd:devmap-demo');
      m.bytes.fill(0x5a);
      console.log(`3. a memfd of ${m.length} bytes mapped at 0x${m.address.toString(16)}`);
    } finally {
      closeSync(fd);
    }
    console.log('4. what the kernel says (/proc/self/smaps):');
    for (const addr of [a.address, b.address]) {
      const v = findVma(readMaps(), addr);
      if (v) console.log(`   ${vmaLine(v)}`);
    }
  } finally {
    rmSync(shm, { force: true });
  }
}

export const demoCommand: CommandModule = {
  command: 'demo',
  describe: 'Show devmap at work: map shared memory, write through one mapping, read it through another',
  handler: () => hostDemo(),
};
