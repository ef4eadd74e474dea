// QEMU's ivshmem device: the guest's view (companion module or sysfs), the
// host's view (the backing file), and the doorbell server and host peer.
export { Ivshmem, NO_DEVICE, IVSHMEM_VENDOR, IVSHMEM_DEVICE } from './device.js';
export type { CacheMode, Register, Variant, IvshmemDevice, OpenOptions, WaitOptions } from './device.js';
export { openHostFile } from './host.js';
export type { IvshmemHostFile, HostFileOptions } from './host.js';
export { startIvshmemServer, MAX_VECTORS } from './server.js';
export type { IvshmemServer, IvshmemServerOptions } from './server.js';
export { IvshmemPeer, connectIvshmemPeer } from './peer.js';
export type { PeerOptions } from './peer.js';
