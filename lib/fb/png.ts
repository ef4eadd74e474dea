// PNG in and out, through pngjs (a pure-JS codec: it runs unchanged in every
// guest architecture, with nothing to compile or download).
import { readFileSync, writeFileSync } from 'node:fs';
import pngjs from 'pngjs';

import { devmapError } from '../errors.js';
import type { Image } from './pixel.js';

/** Decodes a PNG file (any colour type and depth) to 8-bit RGBA. */
export function readPng(path: string): Image {
  return decodePng(readFileSync(path), path);
}

/** Decodes PNG bytes to 8-bit RGBA; `what` names them in the error. */
export function decodePng(bytes: Uint8Array, what = 'the data'): Image {
  try {
    const png = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) };
  } catch (err) {
    throw devmapError('ERR_DEVMAP_BAD_PNG', `${what} is not a readable PNG: ${(err as Error).message}`);
  }
}

/** Encodes an RGBA image as PNG bytes. */
export function encodePng(image: Image): Buffer {
  const png = new pngjs.PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.length);
  return pngjs.PNG.sync.write(png);
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
