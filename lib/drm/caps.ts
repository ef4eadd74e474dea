// DRM_IOCTL_GET_CAP for every capability devmap knows, and the client caps
// it sets (DRM_IOCTL_SET_CLIENT_CAP).
import { isSystemError } from '../errors.js';
import { DRM_CAP, DRM_IOCTL, SIZE } from './abi.js';
import { struct } from './structs.js';

export type DrmCaps = Record<keyof typeof DRM_CAP, number | null>;

/** Every DRM_CAP_* value; null where the kernel does not know the capability (EINVAL). */
export function readCaps(ioctl: (request: number, arg: Uint8Array) => unknown): DrmCaps {
  const caps = {} as DrmCaps;
  for (const [name, id] of Object.entries(DRM_CAP) as [keyof typeof DRM_CAP, number][]) {
    const [b, v] = struct(SIZE.get_cap);
    v.setBigUint64(0, BigInt(id), true);
    try {
      ioctl(DRM_IOCTL.GET_CAP, b);
      caps[name] = Number(v.getBigUint64(8, true));
    } catch (err) {
      if (!isSystemError(err, 'EINVAL')) throw err;
      caps[name] = null;
    }
  }
  return caps;
}

/** struct drm_set_client_cap. */
export function clientCap(cap: number, value: number): Uint8Array {
  const [b, v] = struct(SIZE.set_client_cap);
  v.setBigUint64(0, BigInt(cap), true);
  v.setBigUint64(8, BigInt(value), true);
  return b;
}
