// Mapping an ivshmem device's BAR2, the two ways: through the companion
// module's node (cache attribute, size and IVPosition by ioctl) or through
// sysfs resource2[_wc] (IVPosition read from resource0). Each returns the
// parts an Ivshmem is made of, or leaves nothing open or mapped.
import { constants as fsc } from 'node:fs';

import { type Mapping } from '../mapping.js';
import { mapFdWith, type MapOptions } from '../map.js';
import { devmapError, withPath } from '../errors.js';
import { cacheCode, decodeInfo, INFO_SIZE, IOC, REGISTERS, type CacheMode } from './abi.js';
import { windowOf, type CheckedOpen, type IvshmemDevice } from './options.js';
import type { IvshmemSys } from './sys.js';

export const MODULE_NAME = 'devmap_ivshmem';

/** What an open device is made of: the Ivshmem constructor's argument. */
export interface IvshmemParts {
  path: 'module' | 'sysfs';
  device: IvshmemDevice;
  memory: Mapping;
  cache: CacheMode;
  grantedCache: CacheMode | null;
  ivPosition: number;
  vectors: number;
  /** The module's node, kept open for registers and interrupts; -1 via sysfs. */
  fd: number;
  sys: IvshmemSys;
}

export function openModule(dev: IvshmemDevice, o: CheckedOpen, sys: IvshmemSys): IvshmemParts {
  const node = dev.node!;
  const cache = o.cache ?? 'wb';
  const fd = sys.open(node, fsc.O_RDWR);
  try {
    const mode = new Uint8Array(4);
    new DataView(mode.buffer).setUint32(0, cacheCode(cache), true);
    sys.ioctl(fd, IOC.SET_CACHE, mode);
    const buf = new Uint8Array(INFO_SIZE);
    sys.ioctl(fd, IOC.INFO, buf);
    const info = decodeInfo(buf);
    const device = { ...dev, size: Number(info.size), variant: info.variant };
    const memory = mapFdWith(fd, node, windowOf(device, o), sys.fstat(fd));
    sys.ioctl(fd, IOC.INFO, buf); // again: what the mapping was granted
    const { granted } = decodeInfo(buf);
    return { path: 'module', device, memory, cache, grantedCache: granted, ivPosition: info.ivPosition, vectors: info.vectors, fd, sys };
  } catch (err) {
    sys.close(fd);
    throw withPath(err, node);
  }
}

export function openSysfs(dev: IvshmemDevice, o: CheckedOpen, sys: IvshmemSys): IvshmemParts {
  const cache = o.cache ?? 'uc';
  if (cache === 'wb') {
    throw devmapError('ERR_DEVMAP_CACHE_UNSUPPORTED', `cache 'wb' needs the ${MODULE_NAME} module; sysfs offers 'uc' (resource2) and 'wc' (resource2_wc)`);
  }
  if (dev.driver !== null) {
    throw devmapError(
      'ERR_DEVMAP_BUSY',
      `ivshmem ${dev.address} is bound to ${dev.driver}, which owns BAR2, so sysfs cannot map it; use the module's node or unbind the driver`
    );
  }
  const file = `${dev.sysfsPath}/${cache === 'wc' ? 'resource2_wc' : 'resource2'}`;
  let fd: number;
  try {
    fd = sys.open(file, fsc.O_RDWR);
  } catch (err) {
    // Only architectures that can map PCI BARs write-combined (x86, arm64, ...) give sysfs a resource2_wc.
    if (cache === 'wc' && (err as { code?: string }).code === 'ENOENT' && sys.exists(`${dev.sysfsPath}/resource2`)) {
      throw devmapError('ERR_DEVMAP_CACHE_UNSUPPORTED', `this kernel has no ${file}: its architecture cannot map PCI BARs write-combined through sysfs; use cache 'uc', or the ${MODULE_NAME} module for 'wc'`);
    }
    throw err;
  }
  const memory = mapClosing(sys, fd, file, windowOf(dev, o));
  let ivPosition: number;
  try {
    ivPosition = readIvPosition(sys, `${dev.sysfsPath}/resource0`);
  } catch (err) {
    memory.unmap();
    throw err;
  }
  return { path: 'sysfs', device: dev, memory, cache, grantedCache: null, ivPosition, vectors: 0, fd: -1, sys };
}

/** Maps `fd` and closes it, mapped or not (a sysfs mapping needs no open file). */
function mapClosing(sys: IvshmemSys, fd: number, file: string, window: MapOptions): Mapping {
  try {
    return mapFdWith(fd, file, window, sys.fstat(fd));
  } finally {
    sys.close(fd);
  }
}

/** IVPosition from BAR0 (256 bytes: the kernel rounds the mapping to a page). */
function readIvPosition(sys: IvshmemSys, regsFile: string): number {
  const regs = mapClosing(sys, sys.open(regsFile, fsc.O_RDWR), regsFile, { length: 256 });
  try {
    return regs.read32(REGISTERS.ivposition);
  } finally {
    regs.unmap();
  }
}
