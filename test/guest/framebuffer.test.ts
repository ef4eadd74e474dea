// Every framebuffer of the guest: Node draws, QEMU's screendump of that
// display (taken by the host through QMP) must show exactly that, pixel for
// pixel. The machines bring the paths: x86_64 has bochs-drm twice (a shadow
// buffer in RAM, flushed by deferred I/O) at 1280x800 and 1024x768;
// x86_64-vesa32/-vesa24 have vesafb on the VGA BAR itself (device MMIO) at
// 32 and packed 24 bpp, the first with fbcon left bound (a text console).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fbconBound, setConsoleMode } from '../../lib/fb/console.js';
import { Framebuffer } from '../../lib/fb/framebuffer.js';
import { testCard } from '../../lib/fb/pattern.js';
import type { Image } from '../../lib/fb/pixel.js';
import { writePng } from '../../lib/fb/png.js';
import { findVma, readMaps } from '../../lib/maps.js';
import { needs, skipIf } from './helpers/devices.js';
import { diffPixels, hostScreendump, screenDiff } from './helpers/host.js';

const FBS = existsSync('/dev') ? readdirSync('/dev').filter((f) => /^fb\d+$/.test(f)).sort().map((f) => `/dev/${f}`) : [];
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
/** Debian's fbset, brought in by the harness (lib/harness/image/hosttools.ts GUEST_PROGRAMS). */
// fbset from the host (x86) or from Debian's packages (ARM; /usr/bin since trixie's merged /usr).
const FBSET = ['/usr/bin/fbset', '/bin/fbset'].find((p) => existsSync(p)) ?? '/usr/bin/fbset';
/** The driver's name of each framebuffer, from /proc/fb ("0 VESA VGA"). */
const FB_IDS = new Map(existsSync('/proc/fb') ? readFileSync('/proc/fb', 'utf8').split('\n').filter(Boolean).map((l) => [`/dev/fb${l.split(' ')[0]}`, l.slice(l.indexOf(' ') + 1)]) : []);

/** The VmFlags each path's mapping must carry besides rd wr sh (all of them are logged). */
const STABLE_VMFLAGS: [RegExp, string[]][] = [
  [/VESA/, ['io', 'pf', 'de', 'dd']], // the VGA BAR: remap_pfn_range of MMIO
  [/drmfb/, ['de', 'dd']], // the fbdev shadow: deferred-I/O pages of RAM, no io/pf
  [/devmap-clcd/, ['io', 'pf', 'de', 'dd']], // ARM PL111 (native/kmod/clcd): dma_mmap_wc = remap_pfn_range of the CMA buffer
];

function crop(img: Image, w: number, h: number, x0 = 0): Image {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) data.set(img.data.subarray((y * img.width + x0) * 4, (y * img.width + x0 + w) * 4), y * w * 4);
  return { width: w, height: h, data };
}

function solid(w: number, h: number, rgb: [number, number, number]): Image {
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([...rgb, 255], i * 4);
  return { width: w, height: h, data };
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

const devmap = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

// First, while nothing else has touched the VT: a machine whose fbcon still
// draws the text console (x86_64-vesa32).
needs('fbcon', FBS.length > 0 && fbconBound()).describe('a picture drawn with fbcon bound (text console)', () => {
  it('devmap fb draw switches the VT to KD_GRAPHICS and the picture stays exactly as drawn after it exits', async () => {
    using fb = Framebuffer.open(FBS[0]!);
    const card = testCard(fb.width, fb.height);
    writePng('/tmp/card.png', card);
    const r = devmap('fb', 'draw', '/tmp/card.png', '--device', FBS[0]!);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/text console is now in graphics mode/);
    // fbcon's cursor blinks every 200 ms: wait through several blinks.
    await sleep(1500);
    expect(diffPixels(await hostScreendump(FBS[0]!), card)).toBe(0);
  });

  it('devmap fb console text gives the screen back to fbcon, which repaints it', async () => {
    using fb = Framebuffer.open(FBS[0]!);
    const card = testCard(fb.width, fb.height);
    const r = devmap('fb', 'console', 'text');
    expect(r.status, r.stderr).toBe(0);
    await sleep(500);
    expect(diffPixels(await hostScreendump(FBS[0]!), card)).toBeGreaterThan(0);
    // The suites below draw with the console quiet, as devmap fb does.
    setConsoleMode('graphics');
  });
});

// Every framebuffer a machine can list (fb0, fb1: present, missing or not
// on this machine), and any other this guest has.
for (const name of new Set(['fb0', 'fb1', ...FBS.map((p) => basename(p))])) {
  const path = `/dev/${name}`;
  const suite = name === 'fb0' || name === 'fb1' ? needs(name, FBS.includes(path)).describe : describe;
  suite(`framebuffer ${path} in the guest`, () => framebufferSpecs(path));
}

function framebufferSpecs(path: string): void {
  let fb: Framebuffer;
  beforeAll(() => {
    fb = Framebuffer.open(path);
    fb.activate(); // fb1 (no fbcon on it) is dark until its mode is set
    if (fbconBound()) setConsoleMode('graphics');
    console.log(`${path}: ${JSON.stringify(fb.info)}`);
  });
  afterAll(() => fb?.close());

  /** Draws, flushes, and compares the host's screendump of this display with what we meant. */
  async function expectOnScreen(want: Image): Promise<void> {
    fb.flush();
    expect(await screenDiff(path, (shot) => diffPixels(shot, want))).toBe(0);
  }

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
    await expectOnScreen(card);
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
    await expectOnScreen(want);
  });

  it('clips at every edge', async () => {
    fb.clear('black');
    const w = fb.width;
    const h = fb.height;
    expect(fb.fillRect(-10, -10, 20, 20, 'white')).toEqual({ x: 0, y: 0, w: 10, h: 10 });
    expect(fb.fillRect(w - 10, h - 10, 50, 50, 'yellow')).toEqual({ x: w - 10, y: h - 10, w: 10, h: 10 });
    expect(fb.fillRect(w, 0, 10, 10, 'red')).toBeNull();
    const want = solid(w, h, [0, 0, 0]);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 4;
        if (x < 10 && y < 10) want.data.set([255, 255, 255], i);
        if (x >= w - 10 && y >= h - 10) want.data.set([255, 255, 0], i);
      }
    }
    await expectOnScreen(want);
  });

  it('a mode the driver refuses is a clear error and the old mode keeps working', async () => {
    const before = fb.info;
    expect(() => fb.setMode({ xres: 8000, yres: 6000 })).toThrow(/refused mode 8000x6000/);
    expect(fb.info).toMatchObject({ xres: before.xres, yres: before.yres, lineLength: before.lineLength });
    const card = testCard(fb.width, fb.height);
    fb.putImage(0, 0, card);
    await expectOnScreen(card);
  });

  // DRM's fbdev emulation takes a narrower xres without a modeset: the rows
  // keep the scanout's pitch, so line_length != xres * bytes. (vesafb and
  // bochs report padding-free BIOS/KMS modes: measured, see docs/framebuffer.md.)
  const notDrm = skipIf(!/drmfb/.test(FB_IDS.get(path) ?? ''), `${path} is ${FB_IDS.get(path) ?? 'unnamed'}, not DRM's fbdev emulation (drmfb), the driver that pads lines`);
  it('stride: at a narrower xres, line_length != xres * bytes and the picture is still exact', notDrm, async () => {
    const full = fb.info;
    const bytes = full.bitsPerPixel / 8;
    fb.clear('magenta');
    fb.flush();
    const i = fb.setMode({ xres: full.xres - 277 });
    try {
      expect(i.lineLength).toBe(full.lineLength);
      expect(i.lineLength).not.toBe(i.xres * bytes);
      const card = testCard(i.xres, i.yres);
      fb.putImage(0, 0, card);
      expect(diffPixels(fb.readImage(), card)).toBe(0);
      fb.flush();
      const rest = solid(full.xres - i.xres, i.yres, [255, 0, 255]);
      // The scanout keeps its full width: the card on the left, the old magenta right of xres.
      const diff = (shot: Image) =>
        shot.width !== full.xres ? -1 : diffPixels(crop(shot, i.xres, i.yres), card) + diffPixels(crop(shot, rest.width, i.yres, i.xres), rest);
      expect(await screenDiff(path, diff)).toBe(0);
    } finally {
      fb.setMode({ xres: full.xres });
    }
    expect(fb.info).toMatchObject({ xres: full.xres, lineLength: full.lineLength });
  });

  it('records the VmFlags of the mapping', () => {
    const vma = findVma(readMaps(), fb.memory.address);
    console.log(`${path} (${fb.info.id}) mapping: ${vma?.perms} ${vma?.path} VmFlags: ${vma?.vmFlags.join(' ')}`);
    expect(vma?.perms).toBe('rw-s');
    expect(vma?.path).toBe(path);
    expect(vma?.vmFlags).toEqual(expect.arrayContaining(['rd', 'wr', 'sh']));
    const stable = STABLE_VMFLAGS.find(([id]) => id.test(fb.info.id));
    expect(stable, `no recorded VmFlags for driver "${fb.info.id}"`).toBeDefined();
    expect(vma?.vmFlags).toEqual(expect.arrayContaining(stable![1]));
    if (!stable![1].includes('io')) expect(vma?.vmFlags).not.toContain('io');
  });

  // fb.info is what `devmap fb info --json` prints (a CLI start costs ~5 s under TCG).
  it('fbset -i reports the geometry devmap fb info does', skipIf(!existsSync(FBSET), `no ${FBSET} in the guest image`), () => {
    const r = spawnSync(FBSET, ['-i', '-fb', path], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const i = fb.info;
    expect(r.stdout).toMatch(new RegExp(`geometry ${i.xres} ${i.yres} ${i.xresVirtual} ${i.yresVirtual} ${i.bitsPerPixel}`));
    expect(r.stdout).toMatch(new RegExp(`LineLength\\s*:\\s*${i.lineLength}\\b`));
    expect(r.stdout).toMatch(new RegExp(`rgba ${i.red.length}/${i.red.offset},${i.green.length}/${i.green.offset},${i.blue.length}/${i.blue.offset}`));
  });
}
