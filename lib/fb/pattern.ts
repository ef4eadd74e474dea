// A test card that makes framebuffer mistakes visible:
//  - a 1-pixel white border with a black pixel inside it: off-by-one at any edge
//  - a diagonal from corner to corner: a wrong stride shears it into steps
//  - colour bars and per-channel ramps: swapped channels and wrong bitfields
//  - distinct corner squares (red TL, green TR, blue BL, magenta BR): flips
import type { Image } from './pixel.js';

const BARS: [number, number, number][] = [
  [255, 255, 255], [255, 255, 0], [0, 255, 255], [0, 255, 0],
  [255, 0, 255], [255, 0, 0], [0, 0, 255], [0, 0, 0],
];

export function testCard(width: number, height: number): Image {
  const data = new Uint8Array(width * height * 4);
  const put = (x: number, y: number, r: number, g: number, b: number) => {
    const i = (y * width + x) * 4;
    data[i] = r;
    data[i + 1] = g;
    data[i + 2] = b;
    data[i + 3] = 255;
  };
  const barsEnd = Math.floor((height * 2) / 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (y < barsEnd) {
        const [r, g, b] = BARS[Math.min(7, Math.floor((x * 8) / width))]!;
        put(x, y, r, g, b);
      } else {
        // four ramps stacked: red, green, blue, grey
        const band = Math.min(3, Math.floor(((y - barsEnd) * 4) / (height - barsEnd)));
        const v = Math.round((x * 255) / Math.max(1, width - 1));
        put(x, y, band === 0 || band === 3 ? v : 0, band === 1 || band === 3 ? v : 0, band === 2 || band === 3 ? v : 0);
      }
    }
  }
  const square = Math.max(4, Math.floor(Math.min(width, height) / 16));
  const corners: [number, number, [number, number, number]][] = [
    [2, 2, [255, 0, 0]], [width - 2 - square, 2, [0, 255, 0]],
    [2, height - 2 - square, [0, 0, 255]], [width - 2 - square, height - 2 - square, [255, 0, 255]],
  ];
  for (const [cx, cy, [r, g, b]] of corners) {
    for (let y = Math.max(0, cy); y < Math.min(height, cy + square); y++) {
      for (let x = Math.max(0, cx); x < Math.min(width, cx + square); x++) put(x, y, r, g, b);
    }
  }
  const steps = Math.max(width, height);
  for (let k = 0; k < steps; k++) {
    put(Math.round((k * (width - 1)) / Math.max(1, steps - 1)), Math.round((k * (height - 1)) / Math.max(1, steps - 1)), 255, 255, 255);
  }
  for (let x = 0; x < width; x++) {
    put(x, 0, 255, 255, 255);
    put(x, height - 1, 255, 255, 255);
    if (height > 2) {
      put(x, 1, 0, 0, 0);
      put(x, height - 2, 0, 0, 0);
    }
  }
  for (let y = 0; y < height; y++) {
    put(0, y, 255, 255, 255);
    put(width - 1, y, 255, 255, 255);
    if (width > 2 && y > 0 && y < height - 1) {
      put(1, y, 0, 0, 0);
      put(width - 2, y, 0, 0, 0);
    }
  }
  return { width, height, data };
}
