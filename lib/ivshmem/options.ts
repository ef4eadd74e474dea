// Options of Ivshmem.open(): checking, and picking the device they name.
import { PAGE_SIZE } from '../mapping.js';
import { devmapError, rangeError, toU64, typeError } from '../errors.js';
import { CACHE_MODES, type CacheMode, type Variant } from './abi.js';

/** One ivshmem PCI device, as sysfs describes it. */
export interface IvshmemDevice {
  index: number;
  /** PCI address, e.g. '0000:00:04.0'. */
  address: string;
  /** Shared memory (BAR2) bytes. */
  size: number;
  /** 'doorbell' when the device has MSI-X (BAR1), else 'plain'. */
  variant: Variant;
  /** Bound driver ('devmap_ivshmem' for the companion module), or null. */
  driver: string | null;
  /** '/dev/ivshmemN' when the companion module is bound, else null. */
  node: string | null;
  sysfsPath: string;
}

export interface OpenOptions {
  /** Position in Ivshmem.list() (default 0). Exclusive with `address`. */
  index?: number;
  /** PCI address ('0000:00:04.0' or '00:04.0'). */
  address?: string;
  /** Cache attribute of the mapping. Default 'wb' via the module, 'uc' via sysfs. */
  cache?: CacheMode;
  /** 'module' or 'sysfs' to insist on one path; default 'auto' (module if bound). */
  via?: 'auto' | 'module' | 'sysfs';
  /** Window of BAR2 to map: page-aligned offset (default 0) and length (default: the rest). */
  offset?: number | bigint;
  length?: number | bigint;
}

export const NO_DEVICE =
  'no ivshmem device found (vendor 1af4 device 1110); start QEMU with ' +
  '-object memory-backend-file,id=hm,size=4M,share=on,mem-path=/dev/shm/NAME -device ivshmem-plain,memdev=hm';

export type CheckedOpen = { index?: number; address?: string; cache?: CacheMode; via: 'auto' | 'module' | 'sysfs'; offset: bigint; length?: bigint };

export function checkOpen(o: OpenOptions): CheckedOpen {
  if (o === null || typeof o !== 'object') throw typeError('options must be an object');
  if (o.index !== undefined && o.address !== undefined) throw typeError('pass either index or address, not both');
  if (o.index !== undefined && !(Number.isInteger(o.index) && o.index >= 0)) throw rangeError(`index must be a non-negative integer, got ${String(o.index)}`);
  if (o.address !== undefined && (typeof o.address !== 'string' || !/^([0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(o.address))) {
    throw typeError(`address must be a PCI address like '0000:00:04.0', got ${String(o.address)}`);
  }
  if (o.cache !== undefined && !CACHE_MODES.includes(o.cache)) throw rangeError(`cache must be one of 'uc', 'wc', 'wb', got ${String(o.cache)}`);
  const via = o.via ?? 'auto';
  if (!['auto', 'module', 'sysfs'].includes(via)) throw rangeError(`via must be 'auto', 'module' or 'sysfs', got ${String(via)}`);
  const offset = toU64(o.offset ?? 0, 'offset');
  if (offset % BigInt(PAGE_SIZE) !== 0n) throw rangeError(`offset must be a multiple of the page size (${PAGE_SIZE}), got ${offset}`);
  const length = o.length === undefined ? undefined : toU64(o.length, 'length', { min: 1n });
  return { index: o.index, address: o.address?.toLowerCase(), cache: o.cache, via, offset, length };
}

export function pick(devices: IvshmemDevice[], o: CheckedOpen): IvshmemDevice {
  if (devices.length === 0) throw devmapError('ERR_DEVMAP_NO_DEVICE', NO_DEVICE);
  const have = devices.map((d) => `${d.index}: ${d.address}`).join(', ');
  if (o.address !== undefined) {
    const want = o.address.length === 7 ? `0000:${o.address}` : o.address;
    const dev = devices.find((d) => d.address === want);
    if (!dev) throw rangeError(`address ${o.address} is not an ivshmem device; found ${have}`);
    return dev;
  }
  const dev = devices[o.index ?? 0];
  if (!dev) throw rangeError(`index must be in [0, ${devices.length - 1}], got ${o.index}; found ${have}`);
  return dev;
}

export function windowOf(dev: IvshmemDevice, o: CheckedOpen): { offset: bigint; length: bigint } {
  const size = BigInt(dev.size);
  const length = o.length ?? size - o.offset;
  if (o.offset >= size || o.offset + length > size) {
    throw rangeError(`offset/length: [${o.offset}, ${o.offset + length}) is outside BAR2 of ${dev.address} (${size} bytes)`);
  }
  return { offset: o.offset, length };
}
