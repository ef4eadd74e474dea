// Dumb buffers: CREATE_DUMB allocates, MAP_DUMB gives the fake offset at
// which mmap(2) of the card maps it, DESTROY_DUMB frees it (the kernel keeps
// the memory until the last mapping of it goes). Anything that fails half
// way gives back what it took, so nothing stays allocated in the kernel.
import { explain, isSystemError, rangeError } from '../errors.js';
import { DEFAULT_FORMAT, DRM_IOCTL, FORMATS, SIZE, type FormatName } from './abi.js';
import type { Drm } from './device.js';
import { DumbBuffer, checkDumbSize } from './dumb.js';
import { struct } from './structs.js';

export interface DumbOptions {
  /** The pixel format (default by bpp: 32 XRGB8888, 24 RGB888, 16 RGB565); its bpp must match. */
  format?: FormatName;
}


function pickFormat(bpp: number, format: FormatName | undefined): FormatName {
  if (format === undefined) return DEFAULT_FORMAT[bpp]!;
  const f = FORMATS[format];
  if (!f) throw rangeError(`format must be one of ${Object.keys(FORMATS).join(', ')}, got ${String(format)}`);
  if (f.bpp !== bpp) throw rangeError(`format ${format} has ${f.bpp} bits per pixel, but bpp is ${bpp}`);
  return format;
}

function destroyDumb(drm: Drm, handle: number): void {
  const [b, v] = struct(SIZE.mode_destroy_dumb);
  v.setUint32(0, handle, true);
  drm.ioctl(DRM_IOCTL.MODE_DESTROY_DUMB, b);
}

export function createDumb(drm: Drm, width: number, height: number, bpp: number, options: DumbOptions, forget: (b: DumbBuffer) => void): DumbBuffer {
  drm.check();
  checkDumbSize(width, height, bpp, drm.limits);
  const format = pickFormat(bpp, options.format);
  const [b, v] = struct(SIZE.mode_create_dumb);
  v.setUint32(0, height, true);
  v.setUint32(4, width, true);
  v.setUint32(8, bpp, true);
  try {
    drm.ioctl(DRM_IOCTL.MODE_CREATE_DUMB, b);
  } catch (err) {
    if (isSystemError(err, 'ENOMEM') || isSystemError(err, 'EINVAL') || isSystemError(err, 'ENOSPC')) {
      explain(err, `${drm.path} (${drm.driver ?? 'unknown driver'}) refused a ${width}x${height}x${bpp} dumb buffer (too large for its memory, or a size it cannot scan out)`);
    }
    throw err;
  }
  const handle = v.getUint32(16, true);
  const pitch = v.getUint32(20, true);
  const size = Number(v.getBigUint64(24, true));
  try {
    const [mb, mv] = struct(SIZE.mode_map_dumb);
    mv.setUint32(0, handle, true);
    drm.ioctl(DRM_IOCTL.MODE_MAP_DUMB, mb);
    const mapping = drm.sys.map(drm.fd, drm.path, { offset: mv.getBigUint64(8, true), length: BigInt(size) });
    return new DumbBuffer(drm, { handle, width, height, bpp, pitch, size, format }, mapping, (buf) => {
      forget(buf);
      if (drm.closed) return; // closing the card freed its handles
      if (buf.fbId) {
        const [rb, rv] = struct(4);
        rv.setUint32(0, buf.fbId, true);
        try {
          drm.ioctl(DRM_IOCTL.MODE_RMFB, rb);
        } catch {
          // already removed (the card's own cleanup): the handle still goes
        }
      }
      destroyDumb(drm, handle);
    });
  } catch (err) {
    destroyDumb(drm, handle);
    throw err;
  }
}
