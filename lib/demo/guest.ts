// The guest half of `devmap demo` (runs inside the guest as
// `node dist/demo/guest.js FONT`): draws the test card and live text through
// KMS (a dumb buffer on the first DRM card) or, without DRM, /dev/fb0; reads
// the host's message from ivshmem and answers it, moves a buffer through the
// edu device's DMA engine, has the host save the screen while the picture is
// up (a KMS client's picture goes when it exits), then prints one summary line.
import { createHash } from 'node:crypto';
import { release, type } from 'node:os';

import { Edu } from '../edu/device.js';
import { testCard } from '../fb/pattern.js';
import { askHost, drmPciAddress, fbPciAddress } from '../vitest/host.js';
import { Ivshmem } from '../ivshmem/device.js';
import { findVma, readMaps } from '../maps.js';
import { openDisplay } from './display.js';
import { GUEST_REPLY_AT, HOST_MESSAGE_AT, readMessage, SAVE_SCREEN_OP, SUMMARY_PREFIX, writeMessage } from './message.js';
import { renderText } from './text.js';

const flagsOf = (m: { address: bigint }) => {
  const v = findVma(readMaps(), m.address);
  return v ? `${v.perms} ${v.path} [${v.vmFlags.join(' ')}]` : '?';
};

async function dmaRoundTrip(): Promise<Record<string, unknown>> {
  using edu = Edu.open();
  using a = edu.allocDma(4096);
  using b = edu.allocDma(4096);
  for (let i = 0; i < 4000; i++) a.bytes[i] = (i * 31 + 7) & 0xff;
  await edu.dmaToDevice(a, { length: 4000 });
  await edu.dmaFromDevice(b, { length: 4000 });
  const equal = Buffer.compare(a.bytes.subarray(0, 4000), b.bytes.subarray(0, 4000)) === 0;
  return { bytes: 4000, equal, dmaAddress: `0x${a.dmaAddress.toString(16)}`, mapping: flagsOf(a) };
}

async function main(font: string): Promise<void> {
  using shm = Ivshmem.open({ cache: 'wc' });
  const message = readMessage(shm.memory.bytes, HOST_MESSAGE_AT) ?? '(no message from the host)';
  let dma: Record<string, unknown>;
  try {
    dma = await dmaRoundTrip();
  } catch (err) {
    dma = { error: (err as Error).message };
  }

  const display = openDisplay();
  try {
    const { width, height } = display;
    display.putImage(0, 0, testCard(width, height));
    const lines: [string, number, string][] = [
      ['devmap', 56, '#ffffff'],
      [`host says: ${message}`, 28, '#ffff00'],
      [dma.error ? `edu DMA failed: ${String(dma.error)}` : `edu DMA: ${String(dma.bytes)} bytes to the device and back, equal: ${String(dma.equal)}`, 22, '#00ffff'],
      [`${type()} ${release()} · ${new Date().toISOString().slice(0, 19)}Z · ${width}x${height} ${display.format} via ${display.path === 'kms' ? `KMS (${display.driver})` : 'fbdev'}`, 18, '#c0c0c0'],
    ];
    let y = Math.round(height * 0.18);
    for (const [text, size, color] of lines) {
      const img = renderText(text, { font, sizePx: size, color, background: '#202020' });
      display.putImage(Math.round((width - img.width) / 2), y, img);
      y += img.height + 12;
    }
    const frame = display.show();
    writeMessage(shm.memory.bytes, GUEST_REPLY_AT, `guest ${release()} drew "${message}"`);
    const pci = display.path === 'kms' ? drmPciAddress(display.device) : fbPciAddress(display.device);
    await askHost(SAVE_SCREEN_OP, pci ? { pci } : {});

    const summary = {
      display: {
        path: display.path, device: display.device, driver: display.driver, mode: `${width}x${height}`, format: display.format,
        stride: display.stride, mapping: flagsOf(display.memory), ...(display.why ? { why: display.why } : {}),
      },
      ivshmem: { via: shm.path, device: shm.device.address, size: shm.size, cache: shm.cache, granted: shm.grantedCache, mapping: flagsOf(shm.memory), message },
      dma,
      frameSha256: createHash('sha256').update(frame.data).digest('hex'),
    };
    console.log(SUMMARY_PREFIX + JSON.stringify(summary));
  } finally {
    display.close();
  }
}

await main(process.argv[2] ?? '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf');
