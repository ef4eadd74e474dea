// DumbBuffer: a KMS dumb buffer mapped into Node. Its memory is a devmap
// Mapping of the DRM fd at the offset DRM_IOCTL_MODE_MAP_DUMB gave, and it
// draws through lib/fb's surface functions with the pixel codec of its
// format, honouring the driver's pitch.
import { devmapError, rangeError } from '../errors.js';
import type { Color, Image } from '../fb/pixel.js';
import { PixelCodec } from '../fb/pixel.js';
import type { Rect } from '../fb/rect.js';
import { fillRect, putImage, readImage, type Surface } from '../fb/surface.js';
import type { Mapping } from '../mapping.js';
import { FORMATS, type FormatName } from './abi.js';

const bits = ([offset, length]: readonly [number, number]) => ({ offset, length, msbRight: false });

/** lib/fb's codec for a DRM format. */
export function codecFor(format: FormatName): PixelCodec {
  const f = FORMATS[format];
  return new PixelCodec({ bitsPerPixel: f.bpp, red: bits(f.red), green: bits(f.green), blue: bits(f.blue), transp: { offset: 0, length: 0, msbRight: false } });
}

/** Checks createDumb()'s arguments: integers the kernel's u32 fields hold, and a bpp devmap draws. */
export function checkDumbSize(width: unknown, height: unknown, bpp: unknown, max: { width: number; height: number }): void {
  for (const [name, v, hi] of [['width', width, max.width], ['height', height, max.height]] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > hi) {
      throw rangeError(`${name} must be an integer in [1, ${hi}] (the card's limit), got ${String(v)}`);
    }
  }
  if (bpp !== 16 && bpp !== 24 && bpp !== 32) throw rangeError(`bpp must be 16, 24 or 32, got ${String(bpp)}`);
}

export class DumbBuffer {
  /** The GEM handle (per open file of the card). */
  readonly handle: number;
  readonly width: number;
  readonly height: number;
  readonly bpp: number;
  /** Bytes from one line to the next, as the driver chose. */
  readonly pitch: number;
  /** Bytes the driver allocated. */
  readonly size: number;
  /** The pixel format drawn and scanned out ('XRGB8888' for 32 bpp unless asked otherwise). */
  readonly format: FormatName;
  /** @internal the Drm that created it: handles are per open file */
  readonly owner: object;
  #mapping: Mapping;
  #codec: PixelCodec;
  #release: (buf: DumbBuffer) => void;
  #destroyed = false;
  /** @internal the framebuffer id addFramebuffer() made, 0 if none */
  fbId = 0;

  /** @internal use Drm.createDumb() */
  constructor(owner: object, d: { handle: number; width: number; height: number; bpp: number; pitch: number; size: number; format: FormatName }, mapping: Mapping, release: (buf: DumbBuffer) => void) {
    this.owner = owner;
    this.handle = d.handle;
    this.width = d.width;
    this.height = d.height;
    this.bpp = d.bpp;
    this.pitch = d.pitch;
    this.size = d.size;
    this.format = d.format;
    this.#mapping = mapping;
    this.#codec = codecFor(d.format);
    this.#release = release;
  }

  /** The mapping of the buffer's memory (detached once destroyed: views have length 0). */
  get memory(): Mapping {
    return this.#mapping;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** @internal */
  check(): void {
    if (this.#destroyed) throw devmapError('ERR_DEVMAP_DESTROYED', `dumb buffer ${this.handle} is already destroyed`);
  }

  #surface(): Surface {
    this.check();
    return { bytes: this.#mapping.bytes, codec: this.#codec, width: this.width, height: this.height, stride: this.pitch, xoffset: 0, yoffset: 0 };
  }

  clear(color: Color): void {
    this.fillRect(0, 0, this.width, this.height, color);
  }

  /** Fills a rectangle, clipped to the buffer. Returns the part drawn (null if none). */
  fillRect(x: number, y: number, w: number, h: number, color: Color): Rect | null {
    return fillRect(this.#surface(), x, y, w, h, color);
  }

  /** Draws an RGBA image at (x, y), clipped; alpha is ignored. Returns the part drawn. */
  putImage(x: number, y: number, image: Image): Rect | null {
    return putImage(this.#surface(), x, y, image);
  }

  /** Reads back a rectangle (default: all of it) as RGBA. */
  readImage(rect?: Partial<Rect>): Image {
    return readImage(this.#surface(), rect);
  }

  /** Removes its framebuffer, unmaps it (views detach) and frees it in the kernel. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#mapping.unmap();
    this.#release(this);
  }

  [Symbol.dispose](): void {
    this.destroy();
  }
}
