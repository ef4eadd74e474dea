// `devmap ivshmem list|info|read|write|dump|hexdump`: QEMU's shared-memory device.
import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';

import { Ivshmem, type CacheMode, type OpenOptions } from '../ivshmem/device.js';
import { findVma, readMaps } from '../maps.js';
import { formatBytes, hexdump, parseSize } from './format.js';
import { rangeError } from '../errors.js';
import { vmaLine } from './map.js';
import { doorbellCommands } from './ivshmem-doorbell.js';

interface Common {
  device?: string;
  cache?: CacheMode;
  via: 'auto' | 'module' | 'sysfs';
  json: boolean;
}

function common<T>(y: Argv<T>): Argv<T & Common> {
  return y
    .option('device', { alias: 'd', type: 'string', describe: 'index in "devmap ivshmem list" or PCI address (default 0)' })
    .option('cache', { type: 'string', choices: ['wb', 'uc', 'wc'] as const, describe: "cache attribute of the mapping (default: 'wb' via the module, 'uc' via sysfs)" })
    .option('via', { type: 'string', choices: ['auto', 'module', 'sysfs'] as const, default: 'auto' as const, describe: 'map through /dev/ivshmemN or sysfs resource2[_wc]' })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON for scripts' }) as unknown as Argv<T & Common>;
}

function openFrom(argv: Common, extra: Partial<OpenOptions> = {}): Ivshmem {
  const d = argv.device;
  const where = d === undefined ? {} : /^\d+$/.test(d) ? { index: Number(d) } : { address: d };
  return Ivshmem.open({ ...where, ...(argv.cache ? { cache: argv.cache } : {}), via: argv.via, ...extra });
}

/** OFF/LEN arguments: 4096, 0x1000, 4K (format.ts parseSize), as a safe number. */
function num(text: string, name: string): number {
  const v = parseSize(text, name);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw rangeError(`${name} is too large, got ${text}`);
  return Number(v);
}

function slice(s: Ivshmem, off: number, len: number): Uint8Array {
  if (off < 0 || len < 0 || off + len > s.size) throw rangeError(`range [${off}, ${off + len}) is outside the ${s.size}-byte shared memory`);
  return s.memory.bytes.subarray(off, off + len);
}

/** ' (kernel gave uc)' when x86 PAT changed the requested attribute. */
const granted = (s: Ivshmem): string => (s.grantedCache && s.grantedCache !== s.cache ? ` (the kernel gave ${s.grantedCache})` : '');

const json = (v: unknown): void => console.log(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x), 2));

/** hexdump -C style: runs of identical lines collapse to '*'. */
function squeezed(bytes: Uint8Array): string {
  const out: string[] = [];
  let prev = '';
  let starred = false;
  for (const line of hexdump(bytes).split('\n')) {
    const body = line.slice(10);
    if (body === prev) {
      if (!starred) out.push('*');
      starred = true;
      continue;
    }
    prev = body;
    starred = false;
    out.push(line);
  }
  return out.join('\n');
}

// Each handler states the argv shape its builder produced.
const run = <A>(fn: (argv: A) => void): ((argv: unknown) => void) => fn as (argv: unknown) => void;

const sub: CommandModule<object, unknown>[] = [
  {
    command: 'list',
    describe: 'List ivshmem devices (address, size, variant, driver, node)',
    builder: (y) => y.option('json', { type: 'boolean', default: false }),
    handler: run((argv: { json: boolean }) => {
      const devs = Ivshmem.list();
      if (argv.json) return json(devs);
      if (devs.length === 0) return console.log('no ivshmem devices (vendor 1af4 device 1110)');
      for (const d of devs) {
        console.log(`${d.index}  ${d.address}  ${formatBytes(d.size).padStart(8)}  ${d.variant.padEnd(8)}  driver ${d.driver ?? '-'}  ${d.node ?? '(no node: sysfs only)'}`);
      }
    }),
  },
  {
    command: 'info',
    describe: 'Open a device and show how it was mapped (path, cache, IVPosition, VmFlags)',
    builder: common,
    handler: run((argv: Common) => {
      using s = openFrom(argv);
      const vma = findVma(readMaps(), s.memory.address);
      const info = { address: s.device.address, path: s.path, file: s.memory.path, size: s.size, variant: s.device.variant, ivPosition: s.ivPosition, vectors: s.vectors, cache: s.cache, grantedCache: s.grantedCache, driver: s.device.driver, vmFlags: vma?.vmFlags ?? [] };
      if (argv.json) return json(info);
      console.log(`${info.address}: ${formatBytes(info.size)} ${info.variant}, mapped via ${info.path} (${info.file}), cache ${info.cache}${granted(s)}`);
      console.log(`IVPosition ${info.ivPosition}, ${info.vectors} MSI-X vector(s), driver ${info.driver ?? '-'}`);
      if (vma) console.log(vmaLine(vma));
    }),
  },
  {
    command: 'read <offset> <length>',
    describe: 'Write LENGTH bytes at OFFSET to stdout, raw (or --json with hex)',
    builder: (y) => common(y.positional('offset', { type: 'string', demandOption: true }).positional('length', { type: 'string', demandOption: true })),
    handler: run((argv: Common & { offset: string; length: string }) => {
      using s = openFrom(argv);
      const off = num(argv.offset, 'offset');
      const bytes = Buffer.from(slice(s, off, num(argv.length, 'length')));
      if (argv.json) return json({ offset: off, length: bytes.length, hex: bytes.toString('hex') });
      process.stdout.write(bytes);
    }),
  },
  {
    command: 'write <offset> [string]',
    describe: 'Write STRING (UTF-8) or the contents of --file at OFFSET',
    builder: (y) =>
      common(y.positional('offset', { type: 'string', demandOption: true }).positional('string', { type: 'string' }))
        .option('file', { alias: 'f', type: 'string', describe: 'write this file instead of STRING' })
        .check((a) => (a.string === undefined) !== (a.file === undefined) || 'give either STRING or --file, not both or neither'),
    handler: run((argv: Common & { offset: string; string?: string; file?: string }) => {
      using s = openFrom(argv);
      const off = num(argv.offset, 'offset');
      const data = argv.file !== undefined ? readFileSync(argv.file) : Buffer.from(argv.string!, 'utf8');
      slice(s, off, data.length).set(data);
      if (argv.json) return json({ offset: off, written: data.length });
      console.log(`wrote ${data.length} bytes at 0x${off.toString(16)} of ${s.device.address} (via ${s.path})`);
    }),
  },
  {
    command: 'dump [offset] [length]',
    describe: 'Hex dump a range (default: the first 256 bytes)',
    builder: (y) => common(y.positional('offset', { type: 'string', default: '0' }).positional('length', { type: 'string', default: '256' })),
    handler: run((argv: Common & { offset: string; length: string }) => {
      using s = openFrom(argv);
      const off = num(argv.offset, 'offset');
      console.log(hexdump(slice(s, off, num(argv.length, 'length')), off));
    }),
  },
  {
    command: 'hexdump',
    describe: 'Hex dump the whole shared memory, repeated lines shown once as *',
    builder: common,
    handler: run((argv: Common) => {
      using s = openFrom(argv);
      console.log(squeezed(s.memory.bytes));
    }),
  },
];

export const ivshmemCommand: CommandModule = {
  command: 'ivshmem <command>',
  describe: "QEMU's ivshmem shared memory: list devices, read and write BAR2, doorbells, channel",
  builder: (y) => {
    let b = y
      .example('devmap ivshmem list', 'devices, their size and whether /dev/ivshmemN exists')
      .example('devmap ivshmem info --cache wc', 'map device 0 write-combining and show its VmFlags')
      .example('devmap ivshmem read 0 16 | od -c', 'the first 16 bytes, raw')
      .example('devmap ivshmem write 0x1000 "hello host"', 'write a string at 4 KiB')
      .example('devmap ivshmem write 0 --file blob.bin -d 0000:00:05.0', 'write a file to the device at 00:05.0')
      .example('devmap ivshmem dump 0 64 --via sysfs', 'hex dump through resource2, without the module')
      .example('devmap ivshmem ring 1 0', "ring peer 1's vector 0 (doorbell device)")
      .example('devmap ivshmem wait 0 --timeout 5000', 'wait up to 5 s for vector 0')
      .example('devmap ivshmem send --init "hi" --peer 1 -s /tmp/ivs.sock', 'host peer: format a channel, send, ring peer 1')
      .example('devmap ivshmem recv -n 10 --json', 'guest: print the next 10 messages')
      .demandCommand(1, 'Name an ivshmem command: list, info, read, write, dump, hexdump, ring, wait, send, recv.');
    for (const c of [...sub, ...doorbellCommands]) b = b.command(c);
    return b;
  },
  handler: () => {},
};
