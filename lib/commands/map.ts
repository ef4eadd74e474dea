// `devmap map`, `devmap maps`: map a file and look at memory maps.
import type { CommandModule } from 'yargs';

import { mapFile } from '../map.js';
import { findVma, readMaps, type Vma } from '../maps.js';
import { hexdump, parseSize } from './format.js';

export function vmaLine(v: Vma): string {
  const flags = v.vmFlags.length ? `  [${v.vmFlags.join(' ')}]` : '';
  return `${v.start.toString(16)}-${v.end.toString(16)} ${v.perms} ${v.offset.toString(16).padStart(8, '0')} ${v.device} ${v.inode} ${v.path}${flags}`;
}

const map: CommandModule<object, { file: string; offset: string; length?: string; 'read-only': boolean; dump: number }> = {
  command: 'map <file>',
  describe: 'Map a file or device node and show where it landed (its /proc/self/smaps entry) and its first bytes',
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'regular file, /dev/shm file or device node' })
      .option('offset', { type: 'string', default: '0', describe: 'byte offset, a multiple of the page size (4096, 0x1000, 4K)' })
      .option('length', { type: 'string', describe: 'bytes to map (default: rest of a regular file; required for devices)' })
      .option('read-only', { type: 'boolean', default: false, describe: 'map with PROT_READ only' })
      .option('dump', { type: 'number', default: 64, describe: 'bytes to hexdump from the start of the mapping' })
      .example('devmap map /dev/shm/guest0 --length 0x100000', 'map 1 MiB of a shared-memory file')
      .example('devmap map /sys/bus/pci/devices/0000:00:04.0/resource2 --length 4096', 'map an ivshmem BAR without a driver'),
  handler: (argv) => {
    using m = mapFile(argv.file, {
      offset: parseSize(argv.offset, '--offset'),
      ...(argv.length === undefined ? {} : { length: parseSize(argv.length, '--length') }),
      write: !argv['read-only'],
    });
    const vma = findVma(readMaps(), m.address);
    console.log(`mapped ${m.length} bytes of ${m.path} at offset ${m.offset} (${m.writable ? 'read-write' : 'read-only'}, MAP_SHARED)`);
    if (vma) console.log(vmaLine(vma));
    console.log(hexdump(m.bytes.subarray(0, Math.max(0, Math.min(argv.dump, m.length)))));
  },
};

const maps: CommandModule<object, { pid: string; filter?: string; json: boolean }> = {
  command: 'maps [pid]',
  describe: "List a process's memory mappings with their VmFlags (io pf de dd mark device memory)",
  builder: (y) =>
    y
      .positional('pid', { type: 'string', default: 'self', describe: "process id, or 'self'" })
      .option('filter', { type: 'string', describe: 'only mappings whose path contains this text' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON (bigints as hex strings)' })
      .example('devmap maps 1234 --filter /dev/', 'device mappings of process 1234'),
  handler: (argv) => {
    const vmas = readMaps(argv.pid === 'self' ? 'self' : Number(argv.pid)).filter((v) => !argv.filter || v.path.includes(argv.filter));
    if (argv.json) {
      console.log(JSON.stringify(vmas, (_k, v: unknown) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v), 2));
    } else {
      for (const v of vmas) console.log(vmaLine(v));
    }
  },
};

export const mapCommands = [map, maps];
