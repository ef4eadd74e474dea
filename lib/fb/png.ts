// PNG in and out, through pngjs (a pure-JS codec: it runs unchanged in every
// guest architecture, with nothing to compile or download).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { devmapError } from '../errors.js';
import type { Image } from './pixel.js';

// Loaded at the first use, not with devmap: it brings zlib and streams, a
// tenth of devmap's import time, which under TCG is a second of a guest's boot.
let codec: typeof import('pngjs') | undefined;
const png = (): typeof import('pngjs') => (codec ??= createRequire(import.meta.url)('pngjs') as typeof import('pngjs'));

/** Decodes a PNG file (any colour type and depth) to 8-bit RGBA. */
export function readPng(path: string): Image {
  return decodePng(readFileSync(path), path);
}

/** Decodes PNG bytes to 8-bit RGBA; `what` names them in the error. */
export function decodePng(bytes: Uint8Array, what = 'the data'): Image {
  try {
    const decoded = png().PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return { width: decoded.width, height: decoded.height, data: new Uint8Array(decoded.data.buffer, decoded.data.byteOffset, decoded.data.length) };
  } catch (err) {
    throw devmapError('ERR_DEVMAP_BAD_PNG', `${what} is not a readable PNG: ${(err as Error).message}`);
  }
}

/** Encodes an RGBA image as PNG bytes. */
export function encodePng(image: Image): Buffer {
  const { PNG } = png();
  const out = new PNG({ width: image.width, height: image.height });
  out.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.length);
  return PNG.sync.write(out);
}

export function writePng(path: string, image: Image): void {
  writeFileSync(path, encodePng(image));
}

/** Nearest-neighbour scaling to fit inside w x h, keeping the aspect ratio. */
export function fitImage(image: Image, w: number, h: number): Image {
  const s = Math.min(w / image.width, h / image.height);
  const ow = Math.max(1, Math.floor(image.width * s));
  const oh = Math.max(1, Math.floor(image.height * s));
  const data = new Uint8Array(ow * oh * 4);
  // Copy to an aligned buffer when needed: Uint32Array views need 4-byte alignment.
  const bytes = image.data.byteOffset % 4 === 0 ? image.data : image.data.slice();
  const src = new Uint32Array(bytes.buffer, bytes.byteOffset, image.width * image.height);
  const dst = new Uint32Array(data.buffer);
  for (let y = 0; y < oh; y++) {
    const sy = Math.min(image.height - 1, Math.floor(y / s));
    for (let x = 0; x < ow; x++) dst[y * ow + x] = src[sy * image.width + Math.min(image.width - 1, Math.floor(x / s))]!;
  }
  return { width: ow, height: oh, data };
}
