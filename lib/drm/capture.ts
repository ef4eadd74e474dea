// Reading back what a CRTC scans out, whoever made the framebuffer (fbdev's
// emulation, a display server, devmap): GETFB gives a GEM handle of it --
// to DRM master or root only -- and MAP_DUMB maps that handle as it maps a
// dumb buffer. The handle is closed again (GEM_CLOSE), the mapping undone.
import { devmapError } from '../errors.js';
import type { Image } from '../fb/pixel.js';
import { readImage } from '../fb/surface.js';
import type { FormatName } from './abi.js';
import { DRM_IOCTL, SIZE } from './abi.js';
import type { Drm } from './device.js';
import { codecFor } from './dumb.js';
import { struct } from './structs.js';

/** What the legacy GETFB's bpp and depth say the format is. */
function formatOf(bpp: number, depth: number): FormatName | undefined {
  if (bpp === 32 && (depth === 24 || depth === 32)) return 'XRGB8888';
  if (bpp === 24) return 'RGB888';
  if (bpp === 16) return depth === 15 ? 'XRGB1555' : 'RGB565';
  return undefined;
}

export function capture(drm: Drm, crtc: number): Image {
  const state = drm.crtc(crtc);
  if (!state.fbId || !state.mode) throw devmapError('ERR_DEVMAP_NO_OUTPUT', `CRTC ${crtc} of ${drm.path} shows nothing (no framebuffer or mode set)`);
  const [b, v] = struct(SIZE.mode_fb_cmd);
  v.setUint32(0, state.fbId, true);
  drm.ioctl(DRM_IOCTL.MODE_GETFB, b);
  const [width, height, pitch, bpp, depth, handle] = [4, 8, 12, 16, 20, 24].map((at) => v.getUint32(at, true)) as [number, number, number, number, number, number];
  if (!handle) {
    throw devmapError('ERR_DEVMAP_NOT_MASTER', `reading framebuffer ${state.fbId} of ${drm.path} needs DRM master or root (CAP_SYS_ADMIN): the kernel gave no handle`);
  }
  try {
    const format = formatOf(bpp, depth);
    if (!format) throw devmapError('ERR_DEVMAP_UNSUPPORTED', `framebuffer ${state.fbId} has ${bpp} bpp, depth ${depth}: devmap reads 16, 24 and 32 bpp`);
    const [mb, mv] = struct(SIZE.mode_map_dumb);
    mv.setUint32(0, handle, true);
    drm.ioctl(DRM_IOCTL.MODE_MAP_DUMB, mb);
    const mapping = drm.sys.map(drm.fd, drm.path, { offset: mv.getBigUint64(8, true), length: BigInt(pitch * height) });
    try {
      const w = Math.min(state.mode.hdisplay, width - state.x);
      const h = Math.min(state.mode.vdisplay, height - state.y);
      return readImage({ bytes: mapping.bytes, codec: codecFor(format), width: w, height: h, stride: pitch, xoffset: state.x, yoffset: state.y });
    } finally {
      mapping.unmap();
    }
  } finally {
    const [cb, cv] = struct(SIZE.gem_close);
    cv.setUint32(0, handle, true);
    drm.ioctl(DRM_IOCTL.GEM_CLOSE, cb);
  }
}
