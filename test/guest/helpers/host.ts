// The guest's line to the host during a guest test run: a virtio-serial
// port named "devmap.host" (QEMU -device virtserialport,name=devmap.host)
// carrying one JSON request per line and one JSON reply per line. The host
// answers with what only it can see: QEMU's own screendump, the ivshmem
// backing file.
import { closeSync, openSync, read, readdirSync, readFileSync, realpathSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { promisify } from 'node:util';

import pngjs from 'pngjs';

import type { Image } from '../../../lib/fb/pixel.js';

const PORT_NAME = 'devmap.host';
const readAsync = promisify(read);

/** The /dev node of the host port, or undefined if this guest has none. */
export function hostPort(): string | undefined {
  try {
    for (const p of readdirSync('/sys/class/virtio-ports')) {
      if (readFileSync(`/sys/class/virtio-ports/${p}/name`, 'utf8').trim() === PORT_NAME) return `/dev/${p}`;
    }
  } catch {
    /* no virtio-ports class: no virtio console driver */
  }
  return undefined;
}

async function openPort(path: string): Promise<number> {
  // A virtio console port admits one opener at a time: test files running
  // in parallel take turns.
  for (let i = 0; ; i++) {
    try {
      return openSync(path, 'r+');
    } catch (err) {
      if ((err as { code?: string }).code !== 'EBUSY' || i > 600) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Sends one request to the host and returns its reply; rejects with the host's error. */
export async function askHost<T = Record<string, unknown>>(op: string, args: Record<string, unknown> = {}): Promise<T> {
  const path = hostPort();
  if (!path) throw new Error(`no "${PORT_NAME}" virtio-serial port: this test must run in a devmap harness guest`);
  const fd = await openPort(path);
  try {
    writeSync(fd, JSON.stringify({ op, ...args }) + '\n');
    const chunks: Buffer[] = [];
    for (;;) {
      const buf = Buffer.alloc(1 << 16);
      const { bytesRead } = await readAsync(fd, buf, 0, buf.length, null);
      if (bytesRead === 0) throw new Error(`host closed the port during "${op}"`);
      chunks.push(buf.subarray(0, bytesRead));
      if (buf[bytesRead - 1] === 0x0a) break;
    }
    const reply = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: string } & T;
    if (reply.error) throw new Error(`host: ${reply.error}`);
    return reply;
  } finally {
    closeSync(fd);
  }
}

/** The PCI address of a framebuffer's device (/dev/fb1 → 0000:00:08.0); undefined for a platform device (vesafb). */
export function fbPciAddress(fbPath: string): string | undefined {
  const dev = basename(realpathSync(`/sys/class/graphics/${basename(fbPath)}/device`));
  return /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(dev) ? dev : undefined;
}

/**
 * QEMU's screendump of the guest's display, taken by the host now, as RGBA:
 * of the display behind `fbPath` (by its PCI address), or QEMU's console 0.
 */
export async function hostScreendump(fbPath?: string): Promise<Image> {
  return hostScreendumpPci(fbPath ? fbPciAddress(fbPath) : undefined);
}

/** The PCI address of a DRM card's device (/dev/dri/card0 → 0000:00:02.0); undefined for a platform device. */
export function drmPciAddress(cardPath: string): string | undefined {
  const dev = basename(realpathSync(`/sys/class/drm/${basename(cardPath)}/device`));
  return /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(dev) ? dev : undefined;
}

/** QEMU's screendump of the display of the PCI device at `pci` (QEMU's console 0 when undefined), as RGBA. */
export async function hostScreendumpPci(pci: string | undefined): Promise<Image> {
  const { png } = await askHost<{ png: string }>('screendump', pci ? { pci } : {});
  const img = pngjs.PNG.sync.read(Buffer.from(png, 'base64'));
  return { width: img.width, height: img.height, data: new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.length) };
}

/** Counts the pixels where two RGBA images differ (alpha ignored); -1 if sizes differ. */
export function diffPixels(a: Image, b: Image): number {
  if (a.width !== b.width || a.height !== b.height) return -1;
  let n = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    if (a.data[i] !== b.data[i] || a.data[i + 1] !== b.data[i + 1] || a.data[i + 2] !== b.data[i + 2]) n++;
  }
  return n;
}

/**
 * The host's screendump of `fbPath`'s display scored by `diff` (0: as
 * wanted), taken again every 200 ms up to `tries` times while it is not 0:
 * DRM's fbdev emulation copies its shadow to VRAM in a worker that fsync only
 * schedules, and QEMU's display models redraw on their next refresh.
 */
export async function screenDiff(fbPath: string | undefined, diff: (shot: Image) => number, tries = 25): Promise<number> {
  let n = -1;
  for (let i = 0; i < tries && n !== 0; i++) {
    if (i) await new Promise((r) => setTimeout(r, 200));
    n = diff(await hostScreendump(fbPath));
  }
  return n;
}
