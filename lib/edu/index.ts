// QEMU's edu device through the companion module (native/kmod/edu): DMA
// buffers mapped into Node, transfers, the device's registers.
export { Edu } from './device.js';
export type { EduInfo, EduStats } from './abi.js';
export { DmaBuffer } from './dma.js';
export type { TransferOptions } from './dma.js';
