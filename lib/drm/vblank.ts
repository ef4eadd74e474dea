// waitVblank: DRM_IOCTL_WAIT_VBLANK with _DRM_VBLANK_EVENT, so the kernel
// queues a DRM_EVENT_VBLANK on the fd at the next vertical blank and no
// thread blocks: the same event path as a page flip. The CRTC is named by
// its index among the card's CRTCs (the "pipe"), as the ioctl wants.
import { devmapError, isSystemError, rangeError } from '../errors.js';
import {
  DRM_IOCTL, WAIT_VBLANK_SIZE, _DRM_VBLANK_EVENT, _DRM_VBLANK_HIGH_CRTC_SHIFT, _DRM_VBLANK_RELATIVE, _DRM_VBLANK_SECONDARY,
} from './abi.js';
import type { Drm } from './device.js';
import type { FlipEvent } from './events.js';
import { cardResources } from './resources.js';

/** The request's type word for `pipe`: 0 as is, 1 SECONDARY, more in the high-CRTC bits. */
export function vblankType(pipe: number): number {
  const which = pipe === 0 ? 0 : pipe === 1 ? _DRM_VBLANK_SECONDARY : (pipe << _DRM_VBLANK_HIGH_CRTC_SHIFT) & 0x3e;
  return (_DRM_VBLANK_RELATIVE | _DRM_VBLANK_EVENT | which) >>> 0;
}

export async function waitVblank(drm: Drm, crtc: number, timeoutMs: number): Promise<FlipEvent> {
  drm.check();
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 2 ** 31 - 1) throw rangeError(`timeoutMs must be an integer in [1, 2147483647], got ${timeoutMs}`);
  const pipe = cardResources(drm.caller).crtcs.indexOf(crtc);
  if (pipe < 0) throw rangeError(`crtc must be one of the card's CRTC ids, got ${crtc}`);
  const { cookie, done } = drm.events.expect(timeoutMs, `a vblank of CRTC ${crtc}`);
  const b = new Uint8Array(WAIT_VBLANK_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, vblankType(pipe), true);
  v.setUint32(4, 1, true);
  if (WAIT_VBLANK_SIZE === 24) v.setBigUint64(8, cookie, true);
  else v.setUint32(8, Number(cookie), true);
  try {
    drm.ioctl(DRM_IOCTL.WAIT_VBLANK, b);
  } catch (err) {
    done.catch(() => {});
    drm.events.cancel(cookie);
    if (isSystemError(err, 'EOPNOTSUPP') || isSystemError(err, 'EINVAL')) {
      throw Object.assign(devmapError('ERR_DEVMAP_UNSUPPORTED', `${drm.path} (${drm.driver ?? 'unknown driver'}) has no vblank interrupt for CRTC ${crtc} (${err.code}): pace frames with pageFlip() instead`), { cause: err });
    }
    throw err;
  }
  const e = await done;
  return { ...e, crtcId: e.crtcId || crtc };
}
