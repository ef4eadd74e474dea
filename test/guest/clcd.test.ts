// The PL111 CLCD of armhf-vexpress, driven by native/kmod/clcd: modes
// beyond the one it was loaded with (FBIOPUT_VSCREENINFO to RGB565; a
// reload at 1024x768), and the DMA buffer outliving the file that mapped
// it. Every picture is checked against the host's QMP screendump.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

import { detachFbcon } from '../../lib/fb/console.js';
import { Framebuffer } from '../../lib/fb/framebuffer.js';
import { testCard } from '../../lib/fb/pattern.js';
import type { Image } from '../../lib/fb/pixel.js';
import { mapFile } from '../../lib/map.js';
import { needs } from './helpers/devices.js';
import { hostScreendump, screenDiff } from './helpers/host.js';

const KO = '/lib/modules/devmap/devmap_clcd.ko';
const FB = '/dev/fb0';
const clcdLoaded = (): boolean => existsSync('/proc/fb') && /devmap-clcd/.test(readFileSync('/proc/fb', 'utf8'));

/**
 * Pixels that differ in the bits a channel of `bits` carries: QEMU's PL110
 * model widens 5/6-bit channels with a plain shift, not by repeating bits,
 * so only the bits the mode holds are compared.
 */
function diffAtDepth(a: Image, b: Image, bits: [number, number, number]): number {
  if (a.width !== b.width || a.height !== b.height) return -1;
  const masks = bits.map((n) => (0xff << (8 - n)) & 0xff);
  let n = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      if ((a.data[i + c]! & masks[c]!) !== (b.data[i + c]! & masks[c]!)) {
        n++;
        break;
      }
    }
  }
  return n;
}

function sh(cmd: string, ...args: string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function load(...params: string[]): void {
  const r = sh('insmod', KO, ...params);
  expect(r.status, r.out).toBe(0);
  expect(clcdLoaded()).toBe(true);
  detachFbcon(); // fbcon takes a newly registered framebuffer
}

needs('clcd', clcdLoaded()).describe('PL111 CLCD from devmap_clcd (armhf-vexpress)', () => {
  it('switches to RGB565 with FBIOPUT_VSCREENINFO and the screen shows the picture at that depth', async () => {
    using fb = Framebuffer.open(FB);
    const loaded = fb.info;
    expect(loaded.bitsPerPixel).toBe(32);
    try {
      const i = fb.setMode({ bitsPerPixel: 16 });
      expect(i).toMatchObject({ xres: loaded.xres, yres: loaded.yres, bitsPerPixel: 16, lineLength: loaded.xres * 2 });
      expect([i.red, i.green, i.blue]).toEqual([
        { offset: 11, length: 5, msbRight: false },
        { offset: 5, length: 6, msbRight: false },
        { offset: 0, length: 5, msbRight: false },
      ]);
      const card = testCard(fb.width, fb.height);
      fb.putImage(0, 0, card);
      expect(diffAtDepth(fb.readImage(), card, [5, 6, 5])).toBe(0);
      expect(await screenDiff(FB, (shot) => diffAtDepth(shot, card, [5, 6, 5]))).toBe(0);
    } finally {
      fb.setMode({ bitsPerPixel: 32 });
    }
    expect(fb.info).toMatchObject({ bitsPerPixel: 32, lineLength: loaded.lineLength });
  });

  it('refuses a mode larger than the load-time buffer, and keeps the old one', () => {
    using fb = Framebuffer.open(FB);
    const before = fb.info;
    expect(() => fb.setMode({ xres: 1024, yres: 768 })).toThrow(/refused mode 1024x768/);
    expect(fb.info).toMatchObject({ xres: before.xres, yres: before.yres, bitsPerPixel: before.bitsPerPixel });
  });

  it('keeps the DMA buffer while a mapping outlives its file; rmmod waits for the last unmap; reloads at 1024x768x16', async () => {
    let smem: number;
    {
      using fb = Framebuffer.open(FB);
      smem = fb.info.smemLen;
    }
    const m = mapFile(FB, { length: smem }); // opens, maps, closes the fd: only the mapping holds the device now
    try {
      const held = sh('rmmod', 'devmap_clcd');
      expect(held.status, `rmmod succeeded with a live mapping: ${held.out}`).not.toBe(0);
      expect(clcdLoaded()).toBe(true);
      // The mapping still reaches the scanned-out buffer: a solid colour, XRGB8888.
      new Uint32Array(m.buffer).fill(0x00_20_a0_40);
      const info = { w: 640, h: 480 };
      expect(await screenDiff(FB, (shot) => {
        if (shot.width !== info.w || shot.height !== info.h) return -1;
        let n = 0;
        for (let p = 0; p < shot.data.length; p += 4) if (shot.data[p] !== 0x20 || shot.data[p + 1] !== 0xa0 || shot.data[p + 2] !== 0x40) n++;
        return n;
      })).toBe(0);
    } finally {
      m.unmap();
    }
    // The last reference is gone: now the module goes, and the buffer with it.
    const freed = sh('rmmod', 'devmap_clcd');
    expect(freed.status, freed.out).toBe(0);
    expect(clcdLoaded()).toBe(false);
    expect(existsSync(FB)).toBe(false);

    try {
      load('xres=1024', 'yres=768', 'bpp=16');
      using fb = Framebuffer.open(FB);
      expect(fb.info).toMatchObject({ xres: 1024, yres: 768, bitsPerPixel: 16, lineLength: 2048 });
      expect(fb.info.smemLen).toBeGreaterThanOrEqual(1024 * 768 * 2);
      const card = testCard(1024, 768);
      fb.putImage(0, 0, card);
      expect(await screenDiff(FB, (shot) => diffAtDepth(shot, card, [5, 6, 5]))).toBe(0);
    } finally {
      // Back to the boot-time mode for the specs that run after this one.
      if (clcdLoaded()) expect(sh('rmmod', 'devmap_clcd').status).toBe(0);
      load();
    }
    using fb = Framebuffer.open(FB);
    expect(fb.info).toMatchObject({ xres: 640, yres: 480, bitsPerPixel: 32 });
  });
});
