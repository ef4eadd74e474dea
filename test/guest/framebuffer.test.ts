// The framebuffer in a real guest: Node draws, QEMU's screendump (taken by
// the host through QMP) must show exactly that, pixel for pixel.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Framebuffer } from '../../lib/fb/framebuffer.js';
import { testCard } from '../../lib/fb/pattern.js';
import type { Image } from '../../lib/fb/pixel.js';
import { findVma, readMaps } from '../../lib/maps.js';
import { diffPixels, hostScreendump } from './helpers/host.js';

const hasFb = existsSync('/dev/fb0');

/** Draws, flushes, and compares the host's screendump with what we meant. */
async function expectOnScreen(fb: Framebuffer, want: Image): Promise<void> {
  fb.flush();
  const shot = await hostScreendump();
  expect({ width: shot.width, height: shot.height }).toEqual({ width: want.width, height: want.height });
  expect(diffPixels(shot, want)).toBe(0);
}

describe.runIf(hasFb)('framebuffer /dev/fb0 in the guest', () => {
  let fb: Framebuffer;
  beforeAll(() => {
    fb = Framebuffer.open('/dev/fb0');
    console.log(`fb0: ${JSON.stringify(fb.info)}`);
  });
  afterAll(() => fb?.close());

  it('decodes a sane geometry', () => {
    const i = fb.info;
    expect(i.xres).toBeGreaterThan(0);
    expect(i.yres).toBeGreaterThan(0);
    expect([16, 24, 32]).toContain(i.bitsPerPixel);
    expect(i.lineLength).toBeGreaterThanOrEqual(i.xres * (i.bitsPerPixel / 8));
    expect(i.smemLen).toBeGreaterThanOrEqual(i.lineLength * i.yres);
    expect(i.visual).toBe('truecolor');
    expect(fb.memory.length).toBe(i.smemLen);
  });

  it('the test card reaches the screen pixel-exact and reads back the same', async () => {
    const card = testCard(fb.width, fb.height);
    fb.putImage(0, 0, card);
    expect(diffPixels(fb.readImage(), card)).toBe(0);
    await expectOnScreen(fb, card);
  });

  it('colour order follows the bitfields: pure red, green, blue bands', async () => {
    const w = fb.width;
    const h = fb.height;
    fb.clear('black');
    fb.fillRect(0, 0, w, Math.floor(h / 3), 'red');
    fb.fillRect(0, Math.floor(h / 3), w, Math.floor(h / 3), '#00ff00');
    fb.fillRect(0, 2 * Math.floor(h / 3), w, h, [0, 0, 255]);
    const want = fb.readImage();
    const at = (img: Image, x: number, y: number) => [...img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 3)];
    expect(at(want, 5, 5)).toEqual([255, 0, 0]);
    expect(at(want, 5, Math.floor(h / 2))).toEqual([0, 255, 0]);
    expect(at(want, 5, h - 1)).toEqual([0, 0, 255]);
    await expectOnScreen(fb, want);
  });

  it('clips at every edge', async () => {
    fb.clear('black');
    const w = fb.width;
    const h = fb.height;
    expect(fb.fillRect(-10, -10, 20, 20, 'white')).toEqual({ x: 0, y: 0, w: 10, h: 10 });
    expect(fb.fillRect(w - 10, h - 10, 50, 50, 'yellow')).toEqual({ x: w - 10, y: h - 10, w: 10, h: 10 });
    expect(fb.fillRect(w, 0, 10, 10, 'red')).toBeNull();
    const want = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 4;
        want[i + 3] = 255;
        if (x < 10 && y < 10) want.set([255, 255, 255], i);
        if (x >= w - 10 && y >= h - 10) want.set([255, 255, 0], i);
      }
    }
    await expectOnScreen(fb, { width: w, height: h, data: want });
  });

  it('a mode the driver refuses is a clear error and the old mode keeps working', async () => {
    const before = fb.info;
    expect(() => fb.setMode({ xres: 8000, yres: 6000 })).toThrow(/refused mode 8000x6000/);
    expect(fb.info).toMatchObject({ xres: before.xres, yres: before.yres, lineLength: before.lineLength });
    const card = testCard(fb.width, fb.height);
    fb.putImage(0, 0, card);
    await expectOnScreen(fb, card);
  });

  it('records the VmFlags of the mapping', () => {
    const vma = findVma(readMaps(), fb.memory.address);
    console.log(`fb0 (${fb.info.id}) mapping: ${vma?.perms} ${vma?.path} VmFlags: ${vma?.vmFlags.join(' ')}`);
    expect(vma?.perms).toBe('rw-s');
    expect(vma?.path).toBe('/dev/fb0');
    expect(vma?.vmFlags).toEqual(expect.arrayContaining(['rd', 'wr', 'sh']));
    if (/VESA/i.test(fb.info.id)) expect(vma?.vmFlags).toEqual(expect.arrayContaining(['io', 'pf'])); // the VGA BAR itself
  });

  it.runIf(existsSync('/usr/sbin/fbset'))('fbset -i reports the geometry devmap fb info does', () => {
    const r = spawnSync('/usr/sbin/fbset', ['-i', '-fb', '/dev/fb0'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const i = fb.info;
    expect(r.stdout).toMatch(new RegExp(`geometry ${i.xres} ${i.yres} ${i.xresVirtual} ${i.yresVirtual} ${i.bitsPerPixel}`));
    expect(r.stdout).toMatch(new RegExp(`LineLength\\s*:\\s*${i.lineLength}\\b`));
    expect(r.stdout).toMatch(new RegExp(`rgba ${i.red.length}/${i.red.offset},${i.green.length}/${i.green.offset},${i.blue.length}/${i.blue.offset}`));
  });
});
