// Framebuffer drawing on the host: a real shared mapping of a memfd stands
// in for the framebuffer memory, with the screen info a driver would report
// passed to openFramebuffer in a faked FbSys. The guest tier checks the
// same code against real drivers and QEMU's screendump.
import { closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { setConsoleMode } from '../../lib/fb/console.js';
import { Framebuffer, openFramebuffer } from '../../lib/fb/framebuffer.js';
import { fbSys, type FbSys } from '../../lib/fb/sys.js';
import { testCard } from '../../lib/fb/pattern.js';
import { parseColor, PixelCodec, type Image } from '../../lib/fb/pixel.js';
import { encodePng, fitImage, readPng, writePng } from '../../lib/fb/png.js';
import { memfd } from '../../lib/index.js';
import type { FbVar } from '../../lib/native.js';
import { tempDir } from '../helpers/tmp.js';

const bf = (offset: number, length: number) => ({ offset, length, msbRight: false });
const FORMATS = {
  XRGB8888: { bitsPerPixel: 32, red: bf(16, 8), green: bf(8, 8), blue: bf(0, 8), transp: bf(0, 0) },
  XBGR8888: { bitsPerPixel: 32, red: bf(0, 8), green: bf(8, 8), blue: bf(16, 8), transp: bf(0, 0) },
  RGB888: { bitsPerPixel: 24, red: bf(16, 8), green: bf(8, 8), blue: bf(0, 8), transp: bf(0, 0) },
  RGB565: { bitsPerPixel: 16, red: bf(11, 5), green: bf(5, 6), blue: bf(0, 5), transp: bf(0, 0) },
  RGB332: { bitsPerPixel: 8, red: bf(5, 3), green: bf(2, 3), blue: bf(0, 2), transp: bf(0, 0) },
};
type Fmt = keyof typeof FORMATS;

/** A fake driver over a memfd: `stride` bytes per line, accepts only `modes`. */
function fakeFb(fmt: Fmt, xres: number, yres: number, stride: number, extra: Partial<FbSys> = {}, yresVirtual = yres) {
  const smemLen = stride * yresVirtual;
  const fd = memfd('fb', smemLen);
  let v: FbVar = {
    xres, yres, xresVirtual: xres, yresVirtual, xoffset: 0, yoffset: 0, grayscale: 0, nonstd: 0, activate: 0,
    height: 0, width: 0, pixclock: 0, vmode: 0, rotate: 0, ...FORMATS[fmt],
  };
  const calls: string[] = [];
  const sys: FbSys = {
    ...fbSys,
    open: () => fd,
    close: (f) => { calls.push('close'); closeSync(f); },
    getInfo: () => ({
      fix: { id: 'fake', smemStart: 0n, smemLen, type: 0, visual: 2, xpanstep: 0, ypanstep: yresVirtual > yres ? 1 : 0, ywrapstep: 0, lineLength: stride, mmioStart: 0n, mmioLen: 0, accel: 0 },
      var: { ...v },
    }),
    fsync: () => calls.push('fsync'),
    pan: (_fd, x, y) => { v = { ...v, xoffset: x, yoffset: y }; },
    ...extra,
  };
  return { fb: openFramebuffer('/dev/fake', sys), fd, calls };
}

function gradient(w: number, h: number): Image {
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([(i * 7) & 255, (i * 13) & 255, (i * 29) & 255, 255], i * 4);
  return { width: w, height: h, data };
}

describe('Framebuffer drawing honours stride and bitfields', () => {
  it.each(Object.keys(FORMATS) as Fmt[])('%s: putImage/readImage round trip, pixels land at line_length offsets', (fmt) => {
    const bpp = FORMATS[fmt].bitsPerPixel / 8;
    const stride = 37 * bpp + 12; // padded: line_length != xres * bytes
    const { fb } = fakeFb(fmt, 37, 11, stride);
    expect(fb.info.format).toBe(fmt);
    const img = gradient(37, 11);
    fb.putImage(0, 0, img);
    const back = fb.readImage();
    const codec = new PixelCodec(FORMATS[fmt]);
    // expected: each pixel quantised through the format
    const want = new Uint8Array(img.data.length);
    const tmp = new Uint8Array(bpp * 37 * 11);
    codec.encode(img.data, 0, tmp, 0, 37 * 11);
    codec.decode(tmp, 0, want, 0, 37 * 11);
    expect(Buffer.from(back.data).equals(Buffer.from(want))).toBe(true);
    if (bpp >= 3) expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
    // padding bytes between lines untouched
    const mem = fb.memory.bytes;
    for (let y = 0; y < 11; y++) expect(mem.subarray(y * stride + 37 * bpp, (y + 1) * stride).every((b) => b === 0)).toBe(true);
    fb.close();
  });

  it('XRGB8888 puts red at bit 16 (byte 2), XBGR8888 at byte 0, RGB565 packs 5:6:5', () => {
    const a = fakeFb('XRGB8888', 4, 1, 16).fb;
    a.clear('#ff0000');
    expect([...a.memory.bytes.subarray(0, 4)]).toEqual([0, 0, 255, 0]);
    const b = fakeFb('XBGR8888', 4, 1, 16).fb;
    b.clear([255, 0, 0]);
    expect([...b.memory.bytes.subarray(0, 4)]).toEqual([255, 0, 0, 0]);
    const c = fakeFb('RGB565', 4, 1, 8).fb;
    c.clear(0x00ff00);
    expect(c.memory.read16(0)).toBe(0x07e0);
    c.clear('blue');
    expect(c.memory.read16(6)).toBe(0x001f);
    expect(c.readImage({ w: 1, h: 1 }).data).toEqual(Uint8Array.of(0, 0, 255, 255));
    for (const f of [a, b, c]) f.close();
  });

  it('clips rectangles and images at every edge, and says what it drew', () => {
    const { fb } = fakeFb('XRGB8888', 10, 8, 40);
    fb.clear('black');
    expect(fb.fillRect(-3, -2, 5, 4, 'white')).toEqual({ x: 0, y: 0, w: 2, h: 2 });
    expect(fb.fillRect(8, 6, 10, 10, 'red')).toEqual({ x: 8, y: 6, w: 2, h: 2 });
    expect(fb.fillRect(20, 20, 5, 5, 'red')).toBeNull();
    expect(fb.fillRect(3, 3, 0, 5, 'red')).toBeNull();
    const img = fb.readImage();
    const px = (x: number, y: number) => [...img.data.subarray((y * 10 + x) * 4, (y * 10 + x) * 4 + 3)];
    expect(px(1, 1)).toEqual([255, 255, 255]);
    expect(px(2, 1)).toEqual([0, 0, 0]);
    expect(px(9, 7)).toEqual([255, 0, 0]);
    expect(px(7, 7)).toEqual([0, 0, 0]);
    expect(fb.putImage(7, -1, gradient(5, 3))).toEqual({ x: 7, y: 0, w: 3, h: 2 });
    const g = gradient(5, 3);
    const r = fb.readImage({ x: 7, y: 0, w: 3, h: 2 });
    expect([...r.data.subarray(0, 4)]).toEqual([...g.data.subarray(5 * 4, 5 * 4 + 4)]); // image (0,1) -> screen (7,0)
    expect(fb.readImage({ x: 8, y: 6, w: 100, h: 100 })).toMatchObject({ width: 2, height: 2 });
    expect(() => fb.fillRect(0.5, 0, 1, 1, 'red')).toThrow(RangeError);
    expect(() => fb.putImage(0, 0, { width: 2, height: 2, data: new Uint8Array(3) })).toThrow(/data.length === width \* height \* 4/);
    expect(() => fb.clear('chartreuse')).toThrow(/color must be/);
    // the colour is checked even when nothing of the rectangle is on screen
    expect(() => fb.fillRect(20, 20, 5, 5, 'chartreuse')).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/color must be/) }));
    expect(() => fb.fillRect(0, 0, 0, 0, {} as never)).toThrow(TypeError);
    fb.close();
  });

  it('8 bpp is truecolor only (RGB332); a palette format and other depths are refused', () => {
    const c = new PixelCodec(FORMATS.RGB332);
    expect([c.name, c.bytesPerPixel, c.pack(255, 0, 0), c.pack(0, 255, 0), c.pack(0, 0, 255)]).toEqual(['RGB332', 1, 0xe0, 0x1c, 0x03]);
    const pseudocolor = { bitsPerPixel: 8, red: bf(0, 8), green: bf(0, 8), blue: bf(0, 8), transp: bf(0, 0) };
    expect(() => new PixelCodec(pseudocolor)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/bitfields overlap .*truecolor only/) }));
    expect(() => new PixelCodec({ ...FORMATS.RGB565, green: bf(4, 6) })).toThrow(/overlap/);
    expect(() => new PixelCodec({ ...FORMATS.RGB332, bitsPerPixel: 4 })).toThrow(/unsupported bits_per_pixel 4: devmap draws truecolor at 8 \(e.g. RGB332\), 16, 24 or 32 bpp/);
  });

  it('draws into the panned page and pans within yres_virtual', () => {
    const { fb } = fakeFb('XRGB8888', 4, 2, 16, {}, 4);
    fb.pan(2);
    fb.clear('white');
    expect(fb.memory.bytes.subarray(0, 32).every((b) => b === 0)).toBe(true);
    expect(fb.memory.read32(32)).toBe(0x00ffffff);
    expect(() => fb.pan(3)).toThrow(/y must be an integer in \[0, 2\]/);
    fb.close();
    const fixed = fakeFb('XRGB8888', 4, 2, 16).fb;
    expect(() => fixed.pan(0)).toThrow(expect.objectContaining({ code: 'ERR_DEVMAP_UNSUPPORTED', message: expect.stringMatching(/ypanstep and ywrapstep are 0/) }));
    fixed.close();
  });
});

describe('Framebuffer modes, flush, vsync, blank, lifetime', () => {
  it('a refused mode is a clear error and the old mode keeps working', () => {
    const einval = Object.assign(new Error('EINVAL: invalid argument, ioctl'), { code: 'EINVAL', errno: -22, syscall: 'ioctl' });
    const { fb } = fakeFb('XRGB8888', 8, 4, 32, { putVar: () => { throw einval; } });
    // the driver's errno stays a system error, with the device as path
    expect(() => fb.setMode({ xres: 4000, yres: 3000 })).toThrow(expect.objectContaining({
      code: 'EINVAL', errno: -22, syscall: 'ioctl', path: '/dev/fake',
      message: expect.stringMatching(/refused mode 4000x3000x32; the previous mode 8x4x32 stays \(EINVAL: invalid argument, ioctl '\/dev\/fake'\)$/),
    }));
    fb.clear('red');
    expect(fb.readImage().data.subarray(0, 4)).toEqual(Uint8Array.of(255, 0, 0, 255));
    expect(() => fb.setMode({ xres: 0 })).toThrow(RangeError);
    fb.close();
  });

  it('a driver that ignores the request (vesafb: no fb_check_var) is a refusal too', () => {
    const { fb } = fakeFb('RGB888', 8, 4, 24, { putVar: (_fd, _changes) => fb.info });
    expect(() => fb.setMode({ xres: 16, yres: 8 })).toThrow(expect.objectContaining({
      code: 'ERR_DEVMAP_FB_MODE', message: expect.stringMatching(/refused mode 16x8x24: the driver kept 8x4x24/),
    }));
    expect(fb.info).toMatchObject({ xres: 8, yres: 4 });
    fb.close();
  });

  it('flush() fsyncs; vsync and blank say clearly when unsupported; close is idempotent', async () => {
    const enotty = Object.assign(new Error('ENOTTY'), { code: 'ENOTTY', errno: -25, syscall: 'ioctl' });
    const { fb, calls } = fakeFb('XRGB8888', 2, 2, 8, {
      waitForVsync: () => Promise.reject(enotty),
      ioctl: () => { throw Object.assign(new Error('EINVAL'), { code: 'EINVAL', errno: -22, syscall: 'ioctl' }); },
    });
    fb.flush();
    expect(calls).toContain('fsync');
    await expect(fb.waitForVsync()).rejects.toMatchObject({ code: 'ERR_DEVMAP_UNSUPPORTED', message: expect.stringMatching(/does not support FBIO_WAITFORVSYNC/) });
    expect(() => fb.blank(true)).toThrow(/does not support blanking/);
    expect(() => fb.blank('on' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: 'on must be a boolean, got string' }));
    fb.close();
    fb.close();
    expect(calls.filter((c) => c === 'close')).toHaveLength(1);
    expect(() => fb.clear('red')).toThrow(expect.objectContaining({ code: 'ERR_DEVMAP_CLOSED' }));
  });

  it('a vsync that never comes times out', async () => {
    const { fb } = fakeFb('XRGB8888', 2, 2, 8, { waitForVsync: () => new Promise(() => {}) });
    await expect(fb.waitForVsync({ timeoutMs: 20 })).rejects.toMatchObject({ code: 'ERR_DEVMAP_TIMEOUT', message: 'no vertical blank on /dev/fake within 20 ms' });
    for (const timeoutMs of [0, -5, 1.5, NaN, Infinity, 2 ** 31]) {
      await expect(fb.waitForVsync({ timeoutMs })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/^timeoutMs must be an integer in \[1, 2147483647\]/) });
    }
    await expect(fb.waitForVsync({ timeoutMs: '20' as never })).rejects.toThrow(TypeError);
    fb.close();
  });

  it('system errors of the device keep their shape and gain the path', async () => {
    const eio = () => Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO', errno: -5, syscall: 'fsync' });
    const { fb } = fakeFb('XRGB8888', 2, 2, 8, {
      fsync: () => { throw eio(); },
      pan: () => { throw eio(); },
      waitForVsync: () => Promise.reject(eio()),
    }, 4);
    const shaped = expect.objectContaining({ code: 'EIO', errno: -5, syscall: 'fsync', path: '/dev/fake', message: "EIO: i/o error, fsync '/dev/fake'" });
    expect(() => fb.flush()).toThrow(shaped);
    expect(() => fb.pan(1)).toThrow(shaped);
    await expect(fb.waitForVsync()).rejects.toEqual(shaped);
    fb.close();
  });

  it('open: a missing device says what to load; a non-framebuffer says so; both stay system errors', () => {
    expect(() => Framebuffer.open('/nonexistent/fb9')).toThrow(expect.objectContaining({
      code: 'ENOENT', errno: -2, syscall: 'open', path: '/nonexistent/fb9',
      message: expect.stringMatching(/^no framebuffer at \/nonexistent\/fb9: load a framebuffer driver .*\(ENOENT: no such file or directory, open '\/nonexistent\/fb9'\)$/),
    }));
    const fd = memfd('notfb', 4096);
    expect(() => openFramebuffer('/dev/notfb', { ...fbSys, open: () => fd, close: () => {} })).toThrow(expect.objectContaining({
      code: 'ENOTTY', errno: -25, syscall: 'ioctl', path: '/dev/notfb', message: expect.stringMatching(/^\/dev\/notfb is not a framebuffer device/),
    }));
    closeSync(fd);
  });

  it('setConsoleMode refuses an unknown mode before opening the tty; ioctl errors name the tty', () => {
    expect(() => setConsoleMode('Graphics' as never, '/nonexistent/tty')).toThrow(expect.objectContaining({
      code: 'ERR_OUT_OF_RANGE', message: "mode must be 'graphics' or 'text', got Graphics",
    }));
    const notTty = join(tempDir(), 'tty');
    writeFileSync(notTty, '');
    expect(() => setConsoleMode('text', notTty)).toThrow(expect.objectContaining({ code: 'ENOTTY', syscall: 'ioctl', path: notTty }));
  });
});

describe('colours, the test card and PNG', () => {
  it('parses colours', () => {
    expect(parseColor('#f80')).toEqual([255, 136, 0]);
    expect(parseColor('00ff7f')).toEqual([0, 255, 127]);
    expect(parseColor(0x123456)).toEqual([0x12, 0x34, 0x56]);
    expect(parseColor('Magenta')).toEqual([255, 0, 255]);
    expect(() => parseColor(-1)).toThrow(RangeError);
    expect(() => parseColor([1, 2, 300])).toThrow(RangeError);
    expect(() => parseColor({} as never)).toThrow(TypeError);
  });

  it('test card: white border, black inner border, coloured corners, diagonal', () => {
    const c = testCard(64, 48);
    const px = (x: number, y: number) => [...c.data.subarray((y * 64 + x) * 4, (y * 64 + x) * 4 + 4)];
    expect(px(0, 0)).toEqual([255, 255, 255, 255]);
    expect(px(63, 47)).toEqual([255, 255, 255, 255]);
    expect(px(1, 5)).toEqual([0, 0, 0, 255]);
    expect(px(3, 3)).toEqual([255, 0, 0, 255]);
    expect(px(60, 3)).toEqual([0, 255, 0, 255]);
    expect(px(3, 44)).toEqual([0, 0, 255, 255]);
    expect(px(60, 44)).toEqual([255, 0, 255, 255]);
  });

  it('PNG round trip and fit', () => {
    const dir = tempDir();
    const img = gradient(13, 7);
    writePng(join(dir, 'a.png'), img);
    const back = readPng(join(dir, 'a.png'));
    expect(back).toMatchObject({ width: 13, height: 7 });
    expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
    expect(encodePng(img).subarray(1, 4).toString()).toBe('PNG');
    expect(fitImage(img, 26, 100)).toMatchObject({ width: 26, height: 14 });
    expect(() => readPng('package.json')).toThrow(/is not a readable PNG/);
  });
});

describe('the native FBIO_WAITFORVSYNC call (fbSys.waitForVsync)', () => {
  it('runs on the thread pool and rejects a device that is not a framebuffer with the ioctl errno', async () => {
    const fd = memfd('not-a-framebuffer', 4096);
    try {
      await expect(fbSys.waitForVsync(fd)).rejects.toMatchObject({ code: 'ENOTTY', errno: -25, syscall: 'ioctl' });
    } finally {
      closeSync(fd);
    }
  });
});
