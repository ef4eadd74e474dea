// The driver's name (DRM_IOCTL_VERSION), DRM_IOCTL_GET_CAP for every
// capability devmap knows, and the client caps it sets (SET_CLIENT_CAP).
import { isSystemError } from '../errors.js';
import { DRM_CAP, DRM_IOCTL, SIZE, VERSION_SIZE } from './abi.js';
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

/**
 * The driver's name ('bochs-drm', 'virtio_gpu') from DRM_IOCTL_VERSION, with
 * a 64-byte buffer for it (longer names come back cut); undefined if the
 * call fails or names nothing. `address` gives the buffer's user pointer.
 */
export function driverName(ioctl: (request: number, arg: Uint8Array) => unknown, address: (b: ArrayBuffer) => bigint): string | undefined {
  const name = new Uint8Array(64);
  const b = new Uint8Array(VERSION_SIZE);
  const v = new DataView(b.buffer);
  const wide = VERSION_SIZE === 64;
  // name_len, then the name pointer: size_t and char * of this process.
  if (wide) {
    v.setBigUint64(16, BigInt(name.length), true);
    v.setBigUint64(24, address(name.buffer), true);
  } else {
    v.setUint32(12, name.length, true);
    v.setUint32(16, Number(address(name.buffer)), true);
  }
  try {
    ioctl(DRM_IOCTL.VERSION, b);
  } catch {
    return undefined;
  }
  const len = Math.min(name.length, wide ? Number(v.getBigUint64(16, true)) : v.getUint32(12, true));
  const text = Buffer.from(name.subarray(0, len)).toString('latin1').replace(/\0.*$/s, '');
  return text || undefined;
}
