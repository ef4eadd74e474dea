// `devmap edu info | factorial N | dma-test`: QEMU's edu device through the
// devmap edu driver.
import type { Argv, CommandModule } from 'yargs';

import { Edu } from '../edu/device.js';
import { EDU_WINDOW } from '../edu/abi.js';
import { findVma, readMaps } from '../maps.js';
import { formatBytes, hexdump, parseSize } from './format.js';

interface Common {
  device: string;
}

const info: CommandModule<Common, Common> = {
  command: 'info',
  describe: 'Show the device (identification, interrupt mode, DMA mask) and the driver counters',
  handler: (argv) => {
    using edu = Edu.open(argv.device);
    const i = edu.info();
    const s = edu.stats();
    console.log(`${edu.path}: edu ${i.version.major}.${i.version.minor} (ident 0x${i.ident.toString(16).padStart(8, '0')})`);
    console.log(`interrupts: ${i.irqMode}   DMA mask: 0x${i.dmaMask.toString(16)}   device window: ${i.window} bytes   largest buffer: ${formatBytes(i.bufferMax)}`);
    console.log(`liveness: ${edu.liveness(0x12345678) === ~0x12345678 >>> 0 ? 'alive' : 'NOT ALIVE'}`);
    console.log(`driver: ${s.allocated} buffers allocated, ${s.freed} freed, ${formatBytes(s.liveBytes)} live; ${s.transfers} transfers, ${s.timeouts} timeouts, ${s.irqs} interrupts`);
  },
};

const factorial: CommandModule<Common, Common & { n: number }> = {
  command: 'factorial <n>',
  describe: "Compute n! on the device (its 32-bit result: exact up to 12)",
  builder: (y) => y.positional('n', { type: 'number', demandOption: true, describe: 'an integer in [0, 4294967295]' }),
  handler: (argv) => {
    using edu = Edu.open(argv.device);
    console.log(`${argv.n}! = ${edu.factorial(argv.n)} (mod 2^32)`);
  },
};

const dmaTest: CommandModule<Common, Common & { size: string; 'device-offset': number }> = {
  command: 'dma-test',
  describe: 'Fill a DMA buffer, copy it to the device and back into a second buffer, and compare',
  builder: (y) =>
    y
      .option('size', { type: 'string', default: '4095', describe: `bytes to move (1 to ${EDU_WINDOW} minus --device-offset; 0x.. and K suffixes work)` })
      .option('device-offset', { type: 'number', default: 0, describe: `offset into the device memory, 0 to ${EDU_WINDOW - 1}` }),
  handler: async (argv) => {
    const length = Number(parseSize(argv.size, '--size'));
    using edu = Edu.open(argv.device);
    using src = edu.allocDma(Math.max(1, length));
    using dst = edu.allocDma(Math.max(1, length));
    for (let i = 0; i < length; i++) src.bytes[i] = (i * 31 + 7) & 0xff;
    const vma = findVma(readMaps(), src.address);
    console.log(`buffers at DMA 0x${src.dmaAddress.toString(16)} and 0x${dst.dmaAddress.toString(16)}; VmFlags: ${vma?.vmFlags.join(' ') ?? '?'}`);
    const opts = { length, deviceOffset: argv['device-offset'] };
    let t = performance.now();
    await edu.dmaToDevice(src, opts);
    const toMs = performance.now() - t;
    t = performance.now();
    await edu.dmaFromDevice(dst, opts);
    const fromMs = performance.now() - t;
    const bad = src.bytes.subarray(0, length).findIndex((b, i) => b !== dst.bytes[i]);
    console.log(`to device ${toMs.toFixed(0)} ms, back ${fromMs.toFixed(0)} ms: ${bad < 0 ? `${length} bytes equal` : `MISMATCH at byte ${bad}`}`);
    if (bad >= 0) {
      console.log(hexdump(dst.bytes.subarray(bad & ~15, (bad & ~15) + 32), bad & ~15));
      process.exitCode = 1;
    }
  },
};

export const eduCommand: CommandModule<object, Common> = {
  command: 'edu <command>',
  describe: "QEMU's edu device: DMA buffers and transfers, factorial (needs native/kmod/edu loaded)",
  builder: (y: Argv) =>
    y
      .option('device', { type: 'string', default: '/dev/edu0', describe: 'device node of the devmap edu driver' })
      .command(info)
      .command(factorial)
      .command(dmaTest)
      .demandCommand(1, 'Name an edu command: info, factorial <n> or dma-test.')
      .example('devmap edu info', 'identification, interrupt mode and driver counters')
      .example('devmap edu factorial 10', 'prints 10! = 3628800')
      .example('devmap edu dma-test --size 1K --device-offset 3071', 'round trip 1 KiB ending at the last usable device byte (4094)') as Argv<Common>,
  handler: () => {},
};
