// Framebuffer: /dev/fbN decoded and mapped, with drawing that honours the
// stride (line_length) and the colour bitfields.
import { checkMs, devmapError, explain, isSystemError, rangeError, typeError, withPath } from '../errors.js';
import type { Mapping } from '../mapping.js';
import { native } from '../native.js';
import type { Color, Image, PixelCodec } from './pixel.js';
import type { Rect } from './rect.js';
import { fillRect, putImage, readImage, type Surface } from './surface.js';
import { decodeInfo, fbSys, modeChanges, type FbInfo, type FbSys, type ModeRequest } from './sys.js';

export type { FbInfo, ModeRequest } from './sys.js';

const C = native.constants;

export class Framebuffer {
  readonly path: string;
  #fd: number;
  #sys: FbSys;
  #info!: FbInfo;
  #codec!: PixelCodec;
  #memory!: Mapping;
  #closed = false;

  /** @internal use Framebuffer.open() */
  constructor(path: string, fd: number, sys: FbSys) {
    this.path = path;
    this.#fd = fd;
    this.#sys = sys;
    this.#load();
  }

  /** Opens and maps `path` (default /dev/fb0). */
  static open(path = '/dev/fb0'): Framebuffer {
    return openFramebuffer(path);
  }

  #load(): void {
    const { fix, var: v } = this.#call((fd) => this.#sys.getInfo(fd));
    const { info, codec } = decodeInfo(this.path, fix, v);
    this.#info = info;
    const old = this.#memory;
    this.#memory = this.#sys.map(this.#fd, this.path, fix.smemLen);
    old?.unmap();
    this.#codec = codec;
  }

  #check(): void {
    if (this.#closed) throw devmapError('ERR_DEVMAP_CLOSED', `framebuffer ${this.path} is closed`);
  }

  /** Runs a system call of `#sys`; its errors carry the device as `path`. */
  #call<T>(f: (fd: number) => T): T {
    try {
      return f(this.#fd);
    } catch (err) {
      throw withPath(err, this.path);
    }
  }

  /** The decoded screen info (a copy). */
  get info(): FbInfo {
    this.#check();
    return { ...this.#info };
  }

  /** The whole mapped framebuffer memory (smem_len bytes). */
  get memory(): Mapping {
    this.#check();
    return this.#memory;
  }

  get width(): number {
    return this.#info.xres;
  }

  get height(): number {
    return this.#info.yres;
  }

  /** The visible screen as a drawing surface (views the current mapping). */
  #surface(): Surface {
    const i = this.#info;
    return { bytes: this.#memory.bytes, codec: this.#codec, width: i.xres, height: i.yres, stride: i.lineLength, xoffset: i.xoffset, yoffset: i.yoffset };
  }

  /** Fills the whole visible screen. */
  clear(color: Color): void {
    this.fillRect(0, 0, this.width, this.height, color);
  }

  /** Fills a rectangle, clipped to the screen. Returns the part drawn (null if none). */
  fillRect(x: number, y: number, w: number, h: number, color: Color): Rect | null {
    this.#check();
    return fillRect(this.#surface(), x, y, w, h, color);
  }

  /**
   * Draws an RGBA image with its top-left corner at (x, y). Parts outside the
   * screen are clipped; alpha is ignored (pixels are copied, not blended).
   * Returns the screen rectangle drawn (null if none).
   */
  putImage(x: number, y: number, image: Image): Rect | null {
    this.#check();
    return putImage(this.#surface(), x, y, image);
  }

  /** Reads back a rectangle (default: the whole screen), clipped, as RGBA. */
  readImage(rect?: Partial<Rect>): Image {
    this.#check();
    return readImage(this.#surface(), rect);
  }

  /**
   * Pushes what was drawn to the display now. Drivers that shadow the
   * framebuffer (bochs-drm's fbdev emulation) copy it out by deferred I/O
   * every ~50 ms; fsync(2) starts that copy now (in 6.1 its last step runs
   * in a DRM worker, so the display follows a moment later). Harmless on
   * direct-mapped ones.
   */
  flush(): void {
    this.#check();
    this.#call((fd) => this.#sys.fsync(fd));
  }

  /**
   * Changes the mode with FBIOPUT_VSCREENINFO. A mode the driver refuses is
   * an error and the previous mode stays; on success the mapping is renewed.
   */
  setMode(mode: ModeRequest): FbInfo {
    this.#check();
    const changes = modeChanges(mode);
    const want = `${mode.xres ?? this.width}x${mode.yres ?? this.height}x${mode.bitsPerPixel ?? this.#info.bitsPerPixel}`;
    try {
      this.#call((fd) => this.#sys.putVar(fd, changes, C.FB_ACTIVATE_NOW));
    } catch (err) {
      this.#load();
      if (isSystemError(err)) {
        explain(err, `${this.path} (${this.#info.id}) refused mode ${want}; the previous mode ${this.width}x${this.height}x${this.#info.bitsPerPixel} stays`);
      }
      throw err;
    }
    const before = this.#info;
    this.#load();
    // Drivers without fb_check_var (vesafb: the mode the firmware set is the
    // only one) answer FBIOPUT_VSCREENINFO with success and change nothing.
    const now = this.#info;
    const asked = (k: 'xres' | 'yres' | 'bitsPerPixel') => changes[k] !== undefined && changes[k] !== now[k];
    if ((asked('xres') || asked('yres') || asked('bitsPerPixel')) &&
        now.xres === before.xres && now.yres === before.yres && now.bitsPerPixel === before.bitsPerPixel) {
      throw devmapError('ERR_DEVMAP_FB_MODE', `${this.path} (${now.id}) refused mode ${want}: the driver kept ${now.xres}x${now.yres}x${now.bitsPerPixel} (a fixed mode?); the previous mode stays`);
    }
    return this.info;
  }

  /**
   * Has the driver program the display with the current mode again
   * (FBIOPUT_VSCREENINFO with FB_ACTIVATE_FORCE). DRM's fbdev emulation
   * lights a display only when fbcon or a mode change sets it up: a second
   * display that fbcon never took (QEMU's bochs-display as /dev/fb1) stays
   * dark however much is drawn until this (measured). Harmless elsewhere.
   */
  activate(): void {
    this.#check();
    try {
      this.#call((fd) => this.#sys.putVar(fd, {}, C.FB_ACTIVATE_NOW | C.FB_ACTIVATE_FORCE));
    } finally {
      this.#load();
    }
  }

  /**
   * Shows the part of the virtual screen starting at row `y` (double
   * buffering: draw off-screen, then pan). Drawing follows the pan.
   */
  pan(y: number): void {
    this.#check();
    const i = this.#info;
    if (i.ypanstep === 0 && i.ywrapstep === 0) {
      throw devmapError('ERR_DEVMAP_UNSUPPORTED', `${this.path} (${i.id}) cannot pan (ypanstep and ywrapstep are 0): the driver does not support it`);
    }
    if (!Number.isInteger(y) || y < 0 || y + i.yres > i.yresVirtual) {
      throw rangeError(`y must be an integer in [0, ${i.yresVirtual - i.yres}] (yres_virtual ${i.yresVirtual} - yres ${i.yres}), got ${y}`);
    }
    this.#call((fd) => this.#sys.pan(fd, i.xoffset, y));
    this.#load();
  }

  /**
   * Resolves at the next vertical blank; rejects if unsupported, or with
   * ERR_DEVMAP_TIMEOUT after `timeoutMs` (an integer in [1, 2^31 - 1]).
   */
  async waitForVsync({ timeoutMs = 1000 }: { timeoutMs?: number } = {}): Promise<void> {
    this.#check();
    checkMs(timeoutMs, 'timeoutMs');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(devmapError('ERR_DEVMAP_TIMEOUT', `no vertical blank on ${this.path} within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.#sys.waitForVsync(this.#fd), timeout]);
    } catch (err) {
      if (isSystemError(err) && (err.code === 'ENOTTY' || err.code === 'EINVAL' || err.code === 'EOPNOTSUPP')) {
        throw devmapError('ERR_DEVMAP_UNSUPPORTED', `${this.path} (${this.#info.id}) does not support FBIO_WAITFORVSYNC (${err.code})`);
      }
      throw withPath(err, this.path);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Blanks (true) or unblanks (false) the display with FBIOBLANK. */
  blank(on: boolean): void {
    this.#check();
    if (typeof on !== 'boolean') throw typeError(`on must be a boolean, got ${typeof on}`);
    try {
      this.#call((fd) => this.#sys.ioctl(fd, C.FBIOBLANK, on ? C.FB_BLANK_POWERDOWN : C.FB_BLANK_UNBLANK));
    } catch (err) {
      if (isSystemError(err, 'EINVAL') || isSystemError(err, 'ENOTTY')) {
        throw devmapError('ERR_DEVMAP_UNSUPPORTED', `${this.path} (${this.#info.id}) does not support blanking (${err.code})`);
      }
      throw err;
    }
  }

  /** Unmaps and closes. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#memory.unmap();
    this.#sys.close(this.#fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Framebuffer.open() through `sys` (internal: tests fake the driver to reach every path). */
export function openFramebuffer(path = '/dev/fb0', sys: FbSys = fbSys): Framebuffer {
  let fd: number;
  try {
    fd = sys.open(path);
  } catch (err) {
    if (isSystemError(err, 'ENOENT')) {
      explain(err, `no framebuffer at ${path}: load a framebuffer driver (e.g. bochs-drm in QEMU with -vga std, or vesafb with vga=0x344), or pass another /dev/fbN`);
    }
    throw err;
  }
  try {
    return new Framebuffer(path, fd, sys);
  } catch (err) {
    sys.close(fd);
    if (isSystemError(err, 'ENOTTY')) explain(err, `${path} is not a framebuffer device (FBIOGET_FSCREENINFO failed)`);
    throw err;
  }
}
