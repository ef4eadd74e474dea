// Public entry point of the devmap package: the core, then one line per
// device folder. Nothing inside lib/ imports this file.
export { Mapping, PAGE_SIZE } from './mapping.js';
export { mapFile, mapFd } from './map.js';
export type { Advice } from './mapping.js';
export type { MapOptions } from './map.js';
export { readMaps, parseMaps, findVma } from './maps.js';
export type { Vma } from './maps.js';
export type { SystemError } from './errors.js';
export * from './fb/index.js';
export * from './edu/index.js';
export * from './ivshmem/index.js';
export * from './ipc/index.js';
export * from './drm/index.js';
