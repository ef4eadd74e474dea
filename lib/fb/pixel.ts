// Pixel formats of a framebuffer, described by fbdev's colour bitfields,
// and the conversions between them and 8-bit RGBA.
import { rangeError, typeError } from '../errors.js';

export interface Bitfield {
  offset: number;
  length: number;
  msbRight: boolean;
}

export interface PixelFormat {
  bitsPerPixel: number;
  red: Bitfield;
  green: Bitfield;
  blue: Bitfield;
  transp: Bitfield;
}

/** An RGBA image, 8 bits per channel, rows packed (`data.length === width * height * 4`). */
export interface Image {
  width: number;
  height: number;
  data: Uint8Array;
}

/** 0xRRGGBB, '#rgb', '#rrggbb', 'rrggbb', a basic colour name, or [r, g, b]. */
export type Color = number | string | readonly [number, number, number];

const NAMES: Record<string, number> = {
  black: 0x000000, white: 0xffffff, red: 0xff0000, green: 0x00ff00, blue: 0x0000ff,
  yellow: 0xffff00, cyan: 0x00ffff, magenta: 0xff00ff, gray: 0x808080, grey: 0x808080,
};

/** Parses a Color into [r, g, b]. */
export function parseColor(c: Color): [number, number, number] {
  let v: number | undefined;
  if (typeof c === 'number') {
    if (Number.isInteger(c) && c >= 0 && c <= 0xffffff) v = c;
  } else if (typeof c === 'string') {
    const s = c.trim().toLowerCase();
    if (s in NAMES) v = NAMES[s];
    else {
      const m = /^#?([0-9a-f]{6}|[0-9a-f]{3})$/.exec(s);
      if (m) {
        const h = m[1]!.length === 3 ? [...m[1]!].map((d) => d + d).join('') : m[1]!;
        v = parseInt(h, 16);
      }
    }
  } else if (Array.isArray(c) && c.length === 3 && c.every((x) => Number.isInteger(x) && x >= 0 && x <= 255)) {
    return [c[0], c[1], c[2]];
  } else if (!Array.isArray(c)) {
    throw typeError(`color must be a number, a string or [r, g, b], got ${typeof c}`);
  }
  if (v === undefined) {
    throw rangeError(`color must be 0xRRGGBB, '#rgb', '#rrggbb', [r, g, b] (0-255) or one of ${Object.keys(NAMES).join(', ')}; got ${JSON.stringify(c)}`);
  }
  return [(v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];
}

/** A name for common formats ('XRGB8888', 'RGB565', 'RGB888', ...), else a description. */
export function formatName(f: PixelFormat): string {
  const d = `${f.bitsPerPixel}bpp r${f.red.offset}:${f.red.length} g${f.green.offset}:${f.green.length} b${f.blue.offset}:${f.blue.length}`;
  const key = `${f.bitsPerPixel}/${f.red.offset},${f.red.length}/${f.green.offset},${f.green.length}/${f.blue.offset},${f.blue.length}`;
  const known: Record<string, string> = {
    '32/16,8/8,8/0,8': f.transp.length ? 'ARGB8888' : 'XRGB8888',
    '32/0,8/8,8/16,8': f.transp.length ? 'ABGR8888' : 'XBGR8888',
    '24/16,8/8,8/0,8': 'RGB888',
    '24/0,8/8,8/16,8': 'BGR888',
    '16/11,5/5,6/0,5': 'RGB565',
    '16/0,5/5,6/11,5': 'BGR565',
    '16/10,5/5,5/0,5': 'XRGB1555',
    '8/5,3/2,3/0,2': 'RGB332',
  };
  return known[key] ?? d;
}

/**
 * Converts between RGBA rows and the framebuffer's pixel bytes (little-endian
 * pixels, as fbdev stores them on every architecture devmap runs on).
 */
export class PixelCodec {
  readonly bytesPerPixel: number;
  readonly name: string;
  readonly #f: PixelFormat;
  readonly #widen: [Uint8Array, Uint8Array, Uint8Array];
  /** For byte-aligned formats: byte index of r, g, b, the spare byte (-1 if none) and its value. */
  readonly #bytes: [number, number, number, number, number] | undefined;

  constructor(format: PixelFormat) {
    if (![8, 16, 24, 32].includes(format.bitsPerPixel)) {
      throw rangeError(`unsupported bits_per_pixel ${format.bitsPerPixel}: devmap draws truecolor at 8 (e.g. RGB332), 16, 24 or 32 bpp`);
    }
    let used = 0;
    for (const k of ['red', 'green', 'blue'] as const) {
      const b = format[k];
      if (b.length < 1 || b.length > 8 || b.offset + b.length > format.bitsPerPixel || b.msbRight) {
        throw rangeError(`unsupported ${k} bitfield (offset ${b.offset}, length ${b.length}${b.msbRight ? ', msb_right' : ''})`);
      }
      const bits = (((1 << b.length) - 1) << b.offset) >>> 0;
      // A palette format (pseudocolor: fbdev reports every channel at offset
      // 0, length 8) has no bitfields to pack colours into.
      if (used & bits) {
        throw rangeError(`unsupported ${format.bitsPerPixel} bpp format: the red, green and blue bitfields overlap (a palette format, pseudocolor?); devmap draws truecolor only`);
      }
      used |= bits;
    }
    this.#f = format;
    this.bytesPerPixel = format.bitsPerPixel / 8;
    this.name = formatName(format);
    this.#widen = [widenTable(format.red.length), widenTable(format.green.length), widenTable(format.blue.length)];
    const chans = [format.red, format.green, format.blue];
    if (this.bytesPerPixel >= 3 && chans.every((c) => c.length === 8 && c.offset % 8 === 0)) {
      const used = chans.map((c) => c.offset / 8);
      const spare = this.bytesPerPixel === 4 ? [0, 1, 2, 3].find((i) => !used.includes(i))! : -1;
      this.#bytes = [used[0]!, used[1]!, used[2]!, spare, format.transp.length ? 0xff : 0];
    }
  }

  /** The pixel value of an RGB colour (alpha/transp channel, if any, opaque). */
  pack(r: number, g: number, b: number): number {
    const f = this.#f;
    const ch = (v: number, bf: Bitfield) => ((v >> (8 - bf.length)) << bf.offset) >>> 0;
    const t = f.transp.length ? (((1 << f.transp.length) - 1) << f.transp.offset) >>> 0 : 0;
    return (ch(r, f.red) | ch(g, f.green) | ch(b, f.blue) | t) >>> 0;
  }

  /** `count` pixels of one colour, in framebuffer bytes. */
  solid(color: Color, count: number): Uint8Array {
    const [r, g, b] = parseColor(color);
    const v = this.pack(r, g, b);
    const bpp = this.bytesPerPixel;
    const out = new Uint8Array(count * bpp);
    for (let k = 0; k < bpp; k++) out[k] = (v >>> (8 * k)) & 0xff;
    // Double the filled prefix until the row is full: log2(count) copies.
    for (let n = bpp; n < out.length; n *= 2) out.copyWithin(n, 0, Math.min(n, out.length - n));
    return out;
  }

  /** RGBA pixels src[s..] -> framebuffer bytes dst[d..], `count` pixels. */
  encode(src: Uint8Array, s: number, dst: Uint8Array, d: number, count: number): void {
    const bpp = this.bytesPerPixel;
    if (this.#bytes) {
      // Byte-aligned 8-bit channels (XRGB8888, RGB888, ...): place bytes directly.
      const [ro, go, bo, xo, xv] = this.#bytes;
      for (let i = 0; i < count; i++, s += 4, d += bpp) {
        dst[d + ro] = src[s]!;
        dst[d + go] = src[s + 1]!;
        dst[d + bo] = src[s + 2]!;
        if (xo >= 0) dst[d + xo] = xv;
      }
      return;
    }
    for (let i = 0; i < count; i++, s += 4, d += bpp) {
      const v = this.pack(src[s]!, src[s + 1]!, src[s + 2]!);
      for (let k = 0; k < bpp; k++) dst[d + k] = (v >>> (8 * k)) & 0xff;
    }
  }

  /** Framebuffer bytes src[s..] -> RGBA pixels dst[d..] (alpha 255), `count` pixels. */
  decode(src: Uint8Array, s: number, dst: Uint8Array, d: number, count: number): void {
    const f = this.#f;
    const bpp = this.bytesPerPixel;
    const [rt, gt, bt] = this.#widen;
    const rm = rt.length - 1, gm = gt.length - 1, bm = bt.length - 1;
    for (let i = 0; i < count; i++, s += bpp, d += 4) {
      let v = 0;
      for (let k = 0; k < bpp; k++) v |= src[s + k]! << (8 * k);
      dst[d] = rt[(v >>> f.red.offset) & rm]!;
      dst[d + 1] = gt[(v >>> f.green.offset) & gm]!;
      dst[d + 2] = bt[(v >>> f.blue.offset) & bm]!;
      dst[d + 3] = 255;
    }
  }
}

/**
 * Table widening an n-bit channel value to 8 bits by repeating its bits
 * (5-bit 0b10001 -> 0b10001100): the same expansion pixman, and so QEMU's
 * screendump, uses, so decoded pixels compare exactly.
 */
function widenTable(length: number): Uint8Array {
  const t = new Uint8Array(1 << length);
  for (let x = 0; x < t.length; x++) {
    let v = 0;
    let bits = 0;
    while (bits < 8) {
      v = (v << length) | x;
      bits += length;
    }
    t[x] = v >>> (bits - 8);
  }
  return t;
}

/** Refuses anything but { width, height, data } RGBA with matching length. */
export function checkImage(image: Image): void {
  if (!image || !(image.data instanceof Uint8Array) || !Number.isInteger(image.width) || !Number.isInteger(image.height) ||
      image.width < 0 || image.height < 0 || image.data.length !== image.width * image.height * 4) {
    throw rangeError('image must be { width, height, data: Uint8Array } with data.length === width * height * 4 (RGBA)');
  }
}
