// The guest end of the "devmap.host" virtio-serial port (hostport.ts is the
// host end): one JSON request per line, one JSON reply per line. Guest specs
// (test/guest/helpers/host.ts) and the demo's guest half ask the host through
// it for what only the host can see, such as QEMU's screendump. Imports
// nothing: it runs inside guests.
import { closeSync, openSync, read, readdirSync, readFileSync, realpathSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { promisify } from 'node:util';

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
  if (!path) throw new Error(`no "${PORT_NAME}" virtio-serial port: this must run in a devmap harness guest`);
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

/** The PCI address (0000:00:02.0) behind a sysfs device link; a virtio device (virtioN) counts as its PCI transport's. */
export function pciAddressOf(deviceLink: string): string | undefined {
  let dev = realpathSync(deviceLink);
  if (/^virtio\d+$/.test(basename(dev))) dev = dirname(dev);
  return /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(basename(dev)) ? basename(dev) : undefined;
}
