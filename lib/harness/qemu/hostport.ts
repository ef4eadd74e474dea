// The host end of the guest's "devmap.host" virtio-serial port: one JSON
// request per line from a guest test, one JSON reply per line. It answers
// with what only the host can see -- QEMU's own screendump, the ivshmem
// backing file -- so guest tests can check their effect from outside.
// test/guest/helpers/host.ts is the guest end.
import { closeSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';

import { decodePng } from '../../fb/png.js';
import type { Qmp } from './qmp.js';

export interface HostPortContext {
  qmp: () => Promise<Qmp>;
  /** Scratch folder of this boot. */
  dir: string;
  ivshmem?: { path: string; size: number };
}

export type HostOp = (args: Record<string, unknown>, ctx: HostPortContext) => Promise<Record<string, unknown>>;

function ivshmemRange(args: Record<string, unknown>, ctx: HostPortContext, len: number): { path: string; offset: number } {
  if (!ctx.ivshmem) throw new Error('this machine has no ivshmem device');
  const offset = Number(args.offset ?? 0);
  if (!Number.isInteger(offset) || offset < 0 || offset + len > ctx.ivshmem.size) {
    throw new Error(`offset ${String(args.offset)} + length ${len} is outside the ${ctx.ivshmem.size}-byte ivshmem file`);
  }
  return { path: ctx.ivshmem.path, offset };
}

interface PciDevice { bus: number; slot: number; function: number; qdev_id?: string }

/** QEMU's id of the PCI device at `bdf` (DDDD:BB:SS.F, as the guest's sysfs names it). */
async function qdevIdAt(qmp: Qmp, bdf: string): Promise<string | undefined> {
  const m = /^(?:[0-9a-f]{4}:)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(bdf);
  if (!m) throw new Error(`pci must be a PCI address like 0000:00:08.0, got "${bdf}"`);
  const [bus, slot, fn] = [parseInt(m[1]!, 16), parseInt(m[2]!, 16), Number(m[3])];
  const buses = await qmp.execute<{ bus: number; devices: PciDevice[] }[]>('query-pci');
  const dev = buses.flatMap((b) => b.devices).find((d) => d.bus === bus && d.slot === slot && d.function === fn);
  if (!dev) throw new Error(`no PCI device at ${bdf}`);
  return dev.qdev_id || undefined;
}

/**
 * QEMU's screendump as PNG bytes. {pci: '0000:00:08.0'} picks the display at
 * that PCI address (it needs a QEMU id); without it, or for a device without
 * an id (-vga std), console 0.
 */
async function screendumpPng(args: Record<string, unknown>, ctx: HostPortContext): Promise<Buffer> {
  const file = join(ctx.dir, `screen-${Date.now()}.png`);
  const qmp = await ctx.qmp();
  await qmp.screendump(file, typeof args.pci === 'string' ? await qdevIdAt(qmp, args.pci) : undefined);
  const png = readFileSync(file);
  rmSync(file, { force: true });
  return png;
}

/** Built-in operations; callers of runGuest() may add or replace ops. */
export const HOST_OPS: Record<string, HostOp> = {
  ping: () => Promise.resolve({ pong: true }),
  async screendump(args, ctx) {
    return { png: (await screendumpPng(args, ctx)).toString('base64') };
  },
  // The screendump's size and the RGB of the pixels at {points: [[x, y], ...]}
  // (null outside it), read here: no PNG crosses the port, where a 5120x2160
  // one costs an ARM guest under TCG most of a minute to decode.
  async 'screendump-points'(args, ctx) {
    const img = decodePng(await screendumpPng(args, ctx), 'the screendump');
    const points = Array.isArray(args.points) ? (args.points as unknown[]) : [];
    const rgb = points.map((p) => {
      const [x, y] = Array.isArray(p) ? p.map(Number) : [NaN, NaN];
      if (!Number.isInteger(x) || !Number.isInteger(y) || x! < 0 || y! < 0 || x! >= img.width || y! >= img.height) return null;
      const i = (y! * img.width + x!) * 4;
      return [img.data[i], img.data[i + 1], img.data[i + 2]];
    });
    return { width: img.width, height: img.height, rgb };
  },
  'ivshmem-read': (args, ctx) => {
    const length = Number(args.length ?? 0);
    const { path, offset } = ivshmemRange(args, ctx, length);
    const buf = Buffer.alloc(length);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, buf, 0, length, offset);
    } finally {
      closeSync(fd);
    }
    return Promise.resolve({ data: buf.toString('base64') });
  },
  'ivshmem-write': (args, ctx) => {
    const data = Buffer.from(String(args.data ?? ''), 'base64');
    const { path, offset } = ivshmemRange(args, ctx, data.length);
    const fd = openSync(path, 'r+');
    try {
      writeSync(fd, data, 0, data.length, offset);
    } finally {
      closeSync(fd);
    }
    return Promise.resolve({});
  },
};

/** Serves requests on `socket` (QEMU's connection for the port). */
export function serveHostPort(socket: Socket, ctx: HostPortContext, ops: Record<string, HostOp>): void {
  let buf = '';
  let chain = Promise.resolve();
  socket.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line) continue;
      // One at a time, in order: the guest reads replies in request order.
      chain = chain.then(async () => {
        let reply: Record<string, unknown>;
        try {
          const req = JSON.parse(line) as { op?: string } & Record<string, unknown>;
          const op = ops[req.op ?? ''];
          reply = op ? await op(req, ctx) : { error: `unknown host op "${req.op}"; known: ${Object.keys(ops).join(', ')}` };
        } catch (err) {
          reply = { error: (err as Error).message };
        }
        socket.write(JSON.stringify(reply) + '\n');
      });
    }
  });
  socket.on('error', () => undefined);
}
