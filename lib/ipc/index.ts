// What carries messages and wake-ups between processes and machines: the
// shared-memory channel, interrupt latches, eventfd, UNIX sockets with fd
// passing, memfd.
export { Channel, HEADER_SIZE } from './channel.js';
export type { Message, Received, ChannelOptions, ChannelWake } from './channel.js';
export { memfd } from './memfd.js';
