// lib/drm without a card: a fake DrmSys plays the kernel, so every error
// path and the flip queue run on the host. The real card is
// test/guest/drm.test.ts's.
import { closeSync, mkdirSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

import { DRM_CAP, DRM_EVENT_FLIP_COMPLETE, DRM_IOCTL, SIZE } from '../../lib/drm/abi.js';
import { listCards } from '../../lib/drm/cards.js';
import { openDrm } from '../../lib/drm/device.js';
import { drmSys, type DrmSys } from '../../lib/drm/sys.js';
import { FRAMES, frameColor, wholeFrame } from '../../lib/drm/tear.js';
import { systemError } from '../../lib/errors.js';
import { mapFile } from '../../lib/map.js';
import { native } from '../../lib/native.js';
import { tempDir } from '../helpers/tmp.js';

interface Fake {
  sys: DrmSys;
  calls: string[];
  closed: number[];
  /** Completes the oldest flip in flight: queues its event and wakes the watcher. */
  complete(): void;
  watching: () => boolean;
}

const name = (req: number) => Object.entries(DRM_IOCTL).find(([, v]) => v === req)?.[0] ?? `0x${req.toString(16)}`;

function fake(opts: { dumb?: number; master?: 'EBUSY'; clients?: string; mapFails?: boolean } = {}): Fake {
  const calls: string[] = [];
  const closed: number[] = [];
  const inFlight: bigint[] = [];
  const queued: Uint8Array[] = [];
  let onReadable: ((status: number) => void) | undefined;
  let watching = false;
  let seq = 0;
  const file = join(tempDir(), 'card');
  writeFileSync(file, new Uint8Array(1 << 16));
  const sys: DrmSys = {
    ...drmSys,
    open: () => 42,
    close: (fd) => void closed.push(fd),
    driver: () => 'fake-drm',
    debugfs: () => opts.clients,
    ioctl: (_fd, req, arg) => {
      calls.push(name(req));
      const v = arg instanceof Uint8Array ? new DataView(arg.buffer, arg.byteOffset, arg.byteLength) : undefined;
      if (req === DRM_IOCTL.GET_CAP && v) v.setBigUint64(8, v.getBigUint64(0, true) === BigInt(DRM_CAP.dumbBuffer) ? BigInt(opts.dumb ?? 1) : 0n, true);
      if (req === DRM_IOCTL.MODE_GETRESOURCES && v) {
        v.setUint32(52, 4096, true);
        v.setUint32(60, 4096, true);
      }
      if (req === DRM_IOCTL.SET_MASTER && opts.master) throw systemError(opts.master, 'ioctl', undefined, 'device or resource busy');
      if (req === DRM_IOCTL.MODE_CREATE_DUMB && v) {
        v.setUint32(16, 7, true);
        v.setUint32(20, v.getUint32(4, true) * 4, true);
        v.setBigUint64(24, BigInt(v.getUint32(0, true) * v.getUint32(4, true) * 4), true);
      }
      if (req === DRM_IOCTL.MODE_MAP_DUMB && v) v.setBigUint64(8, 0n, true);
      if (req === DRM_IOCTL.MODE_ADDFB2 && v) v.setUint32(0, 99, true);
      if (req === DRM_IOCTL.MODE_PAGE_FLIP && v) {
        if (inFlight.length) throw systemError('EBUSY', 'ioctl', undefined, 'device or resource busy');
        inFlight.push(v.getBigUint64(16, true));
      }
      return 0;
    },
    map: (_fd, path, w) => {
      if (opts.mapFails) throw systemError('ENOMEM', 'mmap', path, 'cannot allocate memory');
      return mapFile(file, { offset: w.offset, length: w.length });
    },
    read: (_fd, into) => {
      const e = queued.shift();
      if (!e) return 0;
      into.set(e);
      return e.length;
    },
    watch: (_fd, cb) => {
      onReadable = cb;
      return { start: () => void (watching = true), stop: () => void (watching = false), close: () => void (watching = false) };
    },
  };
  return {
    sys, calls, closed, watching: () => watching,
    complete() {
      const cookie = inFlight.shift()!;
      const e = new Uint8Array(SIZE.event_vblank);
      const v = new DataView(e.buffer);
      v.setUint32(0, DRM_EVENT_FLIP_COMPLETE, true);
      v.setUint32(4, SIZE.event_vblank, true);
      v.setBigUint64(8, cookie, true);
      v.setUint32(16, 1, true);
      v.setUint32(20, ++seq, true);
      v.setUint32(24, seq, true);
      v.setUint32(28, 36, true);
      queued.push(e);
      if (watching) onReadable!(0);
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('Drm with a fake driver', () => {
  it('no card: ENOENT says which module to load', () => {
    expect(() => openDrm('/nonexistent/dri/card9')).toThrow(expect.objectContaining({ code: 'ENOENT', message: expect.stringMatching(/modprobe bochs/) }));
  });

  it('a card without dumb buffers: ERR_DEVMAP_UNSUPPORTED and the fd closed', () => {
    const f = fake({ dumb: 0 });
    expect(() => openDrm('/dev/dri/card0', {}, f.sys)).toThrow(expect.objectContaining({ code: 'ERR_DEVMAP_UNSUPPORTED' }));
    expect(f.closed).toEqual([42]);
  });

  it('another master: ERR_DEVMAP_NOT_MASTER names it from debugfs, keeps errno and syscall, closes the fd', () => {
    const f = fake({ master: 'EBUSY', clients: '   command   pid dev master a   uid      magic\n      Xorg   321   0   y    y     0          0\n' });
    let err: (Error & { code?: string; syscall?: string }) | undefined;
    try {
      openDrm('/dev/dri/card0', {}, f.sys);
    } catch (e) {
      err = e as Error;
    }
    expect(err).toMatchObject({ code: 'ERR_DEVMAP_NOT_MASTER', syscall: 'ioctl', path: '/dev/dri/card0' });
    expect(err!.message).toMatch(/Xorg \(pid 321\) holds it/);
    expect(f.closed).toEqual([42]);
  });

  it('a dumb buffer whose mmap fails is destroyed again', () => {
    const f = fake({ mapFails: true });
    using drm = openDrm('/dev/dri/card0', {}, f.sys);
    f.calls.length = 0;
    expect(() => drm.createDumb(64, 32, 32)).toThrow(expect.objectContaining({ code: 'ENOMEM', syscall: 'mmap' }));
    expect(f.calls.filter((c) => c !== 'MODE_GETRESOURCES')).toEqual(['MODE_CREATE_DUMB', 'MODE_MAP_DUMB', 'MODE_DESTROY_DUMB']);
  });

  it('flips queue per CRTC (the kernel never sees a second flip in flight), settle in order, and the watcher runs only while flips are pending', async () => {
    const f = fake();
    using drm = openDrm('/dev/dri/card0', {}, f.sys);
    const buf = drm.createDumb(64, 32, 32);
    expect(buf.pitch).toBe(256);
    const flips = [drm.pageFlip(36, buf), drm.pageFlip(36, buf), drm.pageFlip(36, buf)];
    expect(drm.pendingFlips).toBe(3);
    expect(f.watching()).toBe(true);
    const order: number[] = [];
    flips.forEach((p, i) => p.then(() => order.push(i)));
    for (let i = 0; i < 3; i++) {
      await tick();
      f.complete();
    }
    const events = await Promise.all(flips);
    expect(events.map((e) => e.sequence)).toEqual([1, 2, 3]);
    expect(events[0]).toEqual({ crtcId: 36, sequence: 1, timestampUs: 1_000_001 });
    expect(order).toEqual([0, 1, 2]);
    expect(drm.pendingFlips).toBe(0);
    expect(f.watching()).toBe(false);
    expect(f.calls.filter((c) => c === 'MODE_ADDFB2')).toHaveLength(1);
  });

  it('close() rejects a pending flip, destroys buffers (views detach), then every call is ERR_DEVMAP_CLOSED', async () => {
    const f = fake();
    const drm = openDrm('/dev/dri/card0', {}, f.sys);
    const buf = drm.createDumb(16, 16, 16);
    expect(buf.format).toBe('RGB565');
    const view = buf.memory.bytes;
    const flip = drm.pageFlip(36, buf);
    drm.close();
    drm.close();
    await expect(flip).rejects.toMatchObject({ code: 'ERR_DEVMAP_CLOSED' });
    expect(view.length).toBe(0);
    expect(buf.destroyed).toBe(true);
    expect(f.calls).toContain('MODE_RMFB');
    expect(f.calls).toContain('MODE_DESTROY_DUMB');
    expect(f.closed).toEqual([42]);
    expect(() => drm.resources()).toThrow(expect.objectContaining({ code: 'ERR_DEVMAP_CLOSED' }));
    expect(() => drm.createDumb(8, 8)).toThrow(expect.objectContaining({ code: 'ERR_DEVMAP_CLOSED' }));
  });

  it('bad arguments are refused before any ioctl', () => {
    const f = fake();
    using drm = openDrm('/dev/dri/card0', {}, f.sys);
    expect(() => drm.createDumb(0, 8)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => drm.createDumb(8, 8, 12)).toThrow(/bpp must be 16, 24 or 32/);
    expect(() => drm.createDumb(8, 8, 16, { format: 'XRGB8888' })).toThrow(/has 32 bits per pixel/);
    expect(() => drm.pageFlip(0, 1)).toThrow(/crtc must be an object id/);
    expect(() => drm.dirty(1, [{ x: -1, y: 0, w: 1, h: 1 }])).toThrow(/rects\[0\]\.x/);
  });
});

// The addon's event-loop watcher that flips are read through: on the loop,
// per environment, and gone with a worker that exits with it still started.
describe('FdWatcher (native)', () => {
  it('calls back on the event loop while the fd is readable, and only while started', async () => {
    const efd = native.eventfd(0, native.constants.EFD_NONBLOCK);
    const hits: number[] = [];
    const w = new native.FdWatcher(efd, (status, events) => {
      hits.push(status, events);
      readSync(efd, Buffer.alloc(8));
    });
    try {
      writeSync(efd, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]));
      await tick();
      expect(hits).toEqual([]); // not started
      w.start();
      await tick();
      expect(hits).toEqual([0, native.constants.POLLIN]);
      w.stop();
      writeSync(efd, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]));
      await tick();
      expect(hits).toHaveLength(2);
    } finally {
      w.close();
      w.close();
      closeSync(efd);
    }
    expect(() => w.start()).toThrow(/after close/);
  });

  it('a worker that exits with a started watcher ends cleanly', async () => {
    const addon = join(process.cwd(), 'build', 'Release', 'devmap.node');
    const w = new Worker(
      `const n = require(${JSON.stringify(addon)});
       const efd = n.eventfd(0, 0);
       const w = new n.FdWatcher(efd, () => {});
       w.start();
       process.exit(0);`,
      { eval: true }
    );
    expect(await new Promise((resolve, reject) => w.on('exit', resolve).on('error', reject))).toBe(0);
  });
});

describe('tear-check frames and the card list', () => {
  const solid = (w: number, h: number, rgb: readonly number[]) => {
    const data = new Uint8Array(w * h * 4);
    for (let i = 0; i < data.length; i += 4) data.set([...rgb, 255], i);
    return { width: w, height: h, data };
  };

  it('a whole frame names its number; a mix of two, or any other picture, is torn', () => {
    for (const k of [0, 1, 255, 256, 4097, FRAMES - 1]) expect(wholeFrame(solid(8, 4, frameColor(k)))).toBe(k);
    expect(frameColor(FRAMES + 3)).toEqual(frameColor(3));
    const torn = solid(8, 4, frameColor(7));
    torn.data.set([...frameColor(8), 255], 8 * 4 * 3);
    expect(wholeFrame(torn)).toBeUndefined();
    expect(wholeFrame(solid(8, 4, [0, 0, 0]))).toBeUndefined();
  });

  it('lists cards in number order with their drivers (card10 after card2)', () => {
    const dir = tempDir();
    for (const n of ['card10', 'card2', 'renderD128', 'card0-Virtual-1']) mkdirSync(join(dir, n));
    // No card node to open here: the names come from sysfs's driver links.
    const sys = { ...drmSys, open: () => { throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' }); }, driver: (p: string) => (p.endsWith('card10') ? 'virtio_gpu' : 'bochs-drm') };
    const cards = listCards(sys, dir);
    expect(cards).toEqual([{ path: '/dev/dri/card2', driver: 'bochs-drm' }, { path: '/dev/dri/card10', driver: 'virtio_gpu' }]);
    expect(listCards(drmSys, join(dir, 'none'))).toEqual([]);
  });
});
