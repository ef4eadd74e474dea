// DRM/KMS from Node: a card's connectors, modes and CRTCs, dumb buffers
// mapped into Node and drawn with lib/fb's codecs, mode setting, page flips
// awaited on their completion event, and a double-buffered presenter.
export { Drm } from './device.js';
export type { DrmCaps, DrmCard, DrmOpenOptions } from './device.js';
export { DumbBuffer } from './dumb.js';
export type { DumbOptions } from './alloc.js';
export type { FlipEvent } from './events.js';
export type { Fb } from './modeset.js';
export { Presenter } from './presenter.js';
export type { PresenterOptions } from './presenter.js';
export type { Connector, Plane, Resources } from './resources.js';
export type { CrtcState, Encoder, Mode } from './structs.js';
export { FORMATS as DRM_FORMATS } from './abi.js';
export type { FormatName as DrmFormat } from './abi.js';
