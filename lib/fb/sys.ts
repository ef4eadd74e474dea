// The system side of a Framebuffer: the calls it makes (one table: the
// public API always uses fbSys; the internal openFramebuffer takes another,
// so tests reach every error path), and decoding what the driver reports
// into FbInfo and a pixel codec.
import { closeSync, fsyncSync, openSync } from 'node:fs';

import { devmapError, rangeError } from '../errors.js';
import { type Mapping } from '../mapping.js';
import { mapFd } from '../map.js';
import { native, type FbFix, type FbVar } from '../native.js';
import { PixelCodec } from './pixel.js';

const C = native.constants;

/** The system calls a Framebuffer makes. */
export interface FbSys {
  open(path: string): number;
  close(fd: number): void;
  getInfo(fd: number): { fix: FbFix; var: FbVar };
  putVar(fd: number, changes: Partial<FbVar>, activate: number): FbVar;
  pan(fd: number, x: number, y: number): void;
  waitForVsync(fd: number): Promise<void>;
  ioctl(fd: number, request: number, arg: number): number;
  fsync(fd: number): void;
  map(fd: number, path: string, length: number): Mapping;
}

export const fbSys: FbSys = {
  open: (p) => openSync(p, 'r+'),
  close: closeSync,
  getInfo: native.fbGetInfo,
  putVar: native.fbPutVar,
  pan: native.fbPan,
  waitForVsync: native.fbWaitForVsync,
  ioctl: native.ioctl,
  fsync: fsyncSync,
  map: (fd, path, length) => mapFd(fd, path, { length }),
};

const VISUALS: Record<number, string> = {
  [C.FB_VISUAL_TRUECOLOR]: 'truecolor',
  [C.FB_VISUAL_DIRECTCOLOR]: 'directcolor',
  [C.FB_VISUAL_PSEUDOCOLOR]: 'pseudocolor',
};

/** What `devmap fb info` shows: the decoded fix and var screen info. */
export interface FbInfo extends FbVar {
  path: string;
  id: string;
  lineLength: number;
  smemLen: number;
  visual: string;
  format: string;
  ypanstep: number;
  ywrapstep: number;
}

export interface ModeRequest {
  xres?: number;
  yres?: number;
  bitsPerPixel?: number;
  yresVirtual?: number;
}

/** FbInfo and the codec for a driver's fix and var screen info; refuses a geometry that does not fit smem_len. */
export function decodeInfo(path: string, fix: FbFix, v: FbVar): { info: FbInfo; codec: PixelCodec } {
  const codec = new PixelCodec(v);
  const info: FbInfo = {
    ...v, path, id: fix.id, lineLength: fix.lineLength, smemLen: fix.smemLen,
    visual: VISUALS[fix.visual] ?? `visual ${fix.visual}`, format: codec.name, ypanstep: fix.ypanstep, ywrapstep: fix.ywrapstep,
  };
  if (fix.lineLength < v.xres * codec.bytesPerPixel || fix.lineLength * v.yresVirtual > fix.smemLen) {
    throw devmapError('ERR_DEVMAP_FB_GEOMETRY', `${path}: inconsistent geometry (line_length ${fix.lineLength}, ${v.xres}x${v.yresVirtual}, smem_len ${fix.smemLen})`);
  }
  return { info, codec };
}

/** The FBIOPUT_VSCREENINFO changes for `mode` (checked), visible == virtual width, panned to the origin. */
export function modeChanges(mode: ModeRequest): Partial<FbVar> {
  const changes: Partial<FbVar> = {};
  for (const k of ['xres', 'yres', 'bitsPerPixel', 'yresVirtual'] as const) {
    const v = mode[k];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 1 || v > 16384) throw rangeError(`${k} must be an integer in [1, 16384], got ${v}`);
    changes[k] = v;
  }
  if (changes.xres !== undefined) changes.xresVirtual = changes.xres;
  if (changes.yres !== undefined && changes.yresVirtual === undefined) changes.yresVirtual = changes.yres;
  changes.xoffset = 0;
  changes.yoffset = 0;
  return changes;
}
