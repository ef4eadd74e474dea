// Public entry point of the devmap package. Nothing inside lib/ imports this file.
export { mapFile, mapFd, Mapping, PAGE_SIZE } from './mapping.js';
export type { MapOptions, Advice } from './mapping.js';
export { readMaps, parseMaps, findVma } from './maps.js';
export type { Vma } from './maps.js';
export { memfd } from './memfd.js';
export type { SystemError } from './errors.js';
