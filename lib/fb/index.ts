// Linux framebuffers (/dev/fbN): the device, pixel formats, PNG, a test
// card, and the console (fbcon, KD_GRAPHICS) in the way of drawing.
export { Framebuffer } from './framebuffer.js';
export type { FbInfo, ModeRequest } from './framebuffer.js';
export type { FbFix, FbVar, FbBitfield } from '../native.js';
export { parseColor, PixelCodec } from './pixel.js';
export type { Color, Image, PixelFormat, Bitfield } from './pixel.js';
export type { Rect } from './rect.js';
export { readPng, decodePng, writePng, encodePng, fitImage } from './png.js';
export { testCard } from './pattern.js';
export { setConsoleMode, detachFbcon, fbconBound, listVtConsoles } from './console.js';
export type { VtConsole } from './console.js';
