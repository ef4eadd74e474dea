// The guest's line to the host while its specs run: a virtio-serial port
// named "devmap.host" carrying one JSON request per line and one JSON reply
// per line (lib/harness/qemu/hostport.ts is the host end). The host answers
// with what only it can see -- QEMU's own screendump, the ivshmem backing
// file -- and keeps what a spec leaves for people (artifacts).
import { closeSync, openSync, read, readdirSync, readFileSync, realpathSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { promisify } from 'node:util';

import { devmapError } from '../errors.js';
import { decodePng } from '../fb/png.js';
import type { Image } from '../fb/pixel.js';

const PORT_NAME = 'devmap.host';
const readAsync = promisify(read);

/** The /dev node of the host port, or undefined outside a devmap guest. */
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
  // A virtio console port admits one opener at a time: callers take turns.
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
  if (!path) throw devmapError('ERR_DEVMAP_NO_HOST', `no "${PORT_NAME}" virtio-serial port: ${op} works in a devmap guest (a spec run by devmap/vitest's pool, or devmap guest run)`);
  const fd = await openPort(path);
  try {
    writeSync(fd, JSON.stringify({ op, ...args }) + '\n');
    const chunks: Buffer[] = [];
    for (;;) {
      const buf = Buffer.alloc(1 << 16);
      const { bytesRead } = await readAsync(fd, buf, 0, buf.length, null);
      if (bytesRead === 0) throw devmapError('ERR_DEVMAP_NO_HOST', `the host closed the port during "${op}"`);
      chunks.push(buf.subarray(0, bytesRead));
      if (buf[bytesRead - 1] === 0x0a) break;
    }
    const reply = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: string } & T;
    if (reply.error) throw devmapError('ERR_DEVMAP_HOST', `host: ${reply.error}`);
    return reply;
  } finally {
    closeSync(fd);
  }
}

/** The PCI address behind a sysfs class device (0000:00:08.0), undefined for a platform device. */
function pciOf(sysfs: string): string | undefined {
  const dev = basename(realpathSync(`${sysfs}/device`));
  return /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(dev) ? dev : undefined;
}

/** The PCI address of a framebuffer's device (/dev/fb1 → 0000:00:08.0); undefined for a platform device (vesafb). */
export function fbPciAddress(fbPath: string): string | undefined {
  return pciOf(`/sys/class/graphics/${basename(fbPath)}`);
}

/** The PCI address of a DRM card's device (/dev/dri/card0 → 0000:00:02.0); undefined for a platform device. */
export function drmPciAddress(cardPath: string): string | undefined {
  return pciOf(`/sys/class/drm/${basename(cardPath)}`);
}

export interface ScreenshotOptions {
  /** The display behind this framebuffer (/dev/fb1). */
  fb?: string;
  /** The display behind this DRM card (/dev/dri/card1). */
  card?: string;
  /** The display of the PCI device at this address. */
  pci?: string;
}

/**
 * QEMU's screendump of the guest's display, taken by the host now, as RGBA:
 * of the display behind `fb`, `card` or `pci`, else QEMU's console 0.
 */
export async function screenshot(o: ScreenshotOptions = {}): Promise<Image> {
  const pci = o.pci ?? (o.fb ? fbPciAddress(o.fb) : o.card ? drmPciAddress(o.card) : undefined);
  const { png } = await askHost<{ png: string }>('screendump', pci ? { pci } : {});
  return decodePng(Buffer.from(png, 'base64'), "the host's screendump");
}

/** The host's view of the guest's ivshmem device: its backing file, read and written by the host while the guest runs. */
export const hostIvshmem = {
  async read(offset: number, length: number): Promise<Buffer> {
    const { data } = await askHost<{ data: string }>('ivshmem-read', { offset, length });
    return Buffer.from(data, 'base64');
  },
  async write(offset: number, data: Uint8Array): Promise<void> {
    await askHost('ivshmem-write', { offset, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') });
  },
};
