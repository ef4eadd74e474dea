// Public entry point of the devmap package. Nothing inside lib/ imports this file.
export { mapFile, mapFd, Mapping, PAGE_SIZE } from './mapping.js';
export type { MapOptions, Advice } from './mapping.js';
export { readMaps, parseMaps, findVma } from './maps.js';
export type { Vma } from './maps.js';
export { memfd } from './memfd.js';
export type { SystemError } from './errors.js';
export { Framebuffer, fbSys } from './fb/framebuffer.js';
export type { FbInfo, FbSys, ModeRequest } from './fb/framebuffer.js';
export { parseColor, PixelCodec } from './fb/pixel.js';
export type { Color, Image, PixelFormat, Bitfield } from './fb/pixel.js';
export type { Rect } from './fb/rect.js';
export { readPng, writePng, encodePng, fitImage } from './fb/png.js';
export { testCard } from './fb/pattern.js';
export { setConsoleMode, detachFbcon, fbconBound, listVtConsoles } from './fb/console.js';
export { Edu } from './edu.js';
export type { EduInfo, EduStats } from './edu.js';
export { DmaBuffer } from './dma.js';
export type { TransferOptions } from './dma.js';
