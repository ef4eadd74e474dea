// The DRM/KMS ioctl ABI devmap uses, mirrored from the kernel's uapi headers
// drm/drm.h, drm/drm_mode.h and drm/drm_fourcc.h (no libdrm);
// test/host/abi.test.ts compiles those headers and checks every number,
// size and offset here against them. Every struct below is laid out with
// fixed-width fields (user pointers as __u64), so one layout serves 32- and
// 64-bit processes alike.
import { _IO, _IOW, _IOWR } from '../ioctl.js';

const BASE = 0x64; // 'd'

/** sizeof() of each struct devmap passes. */
export const SIZE = {
  get_cap: 16,
  set_client_cap: 16,
  mode_card_res: 64,
  mode_modeinfo: 68,
  mode_crtc: 104,
  mode_get_encoder: 20,
  mode_get_connector: 80,
  mode_get_plane_res: 16,
  mode_get_plane: 32,
  mode_fb_cmd2: 104,
  mode_crtc_page_flip: 24,
  mode_fb_dirty_cmd: 24,
  clip_rect: 8,
  mode_create_dumb: 32,
  mode_map_dumb: 16,
  mode_destroy_dumb: 4,
  crtc_get_sequence: 24,
  event: 8,
  event_vblank: 32,
  mode_fb_cmd: 28,
  gem_close: 8,
} as const;

/**
 * sizeof(union drm_wait_vblank): the one DRM struct with C longs in it (the
 * request's `signal`, the reply's timeval), so 24 bytes in a 64-bit process
 * and 16 in a 32-bit one; the kernel answers either.
 */
export const WAIT_VBLANK_SIZE = process.arch === 'arm' || process.arch === 'ia32' ? 16 : 24;
/** sizeof(struct drm_version): three ints, then size_t/pointer pairs (64 bytes in a 64-bit process, 36 in a 32-bit one). */
export const VERSION_SIZE = WAIT_VBLANK_SIZE === 24 ? 64 : 36;
export const _DRM_VBLANK_RELATIVE = 0x1;
export const _DRM_VBLANK_EVENT = 0x4000000;
export const _DRM_VBLANK_SECONDARY = 0x20000000;
export const _DRM_VBLANK_HIGH_CRTC_SHIFT = 1;

/** Request numbers (DRM_IOCTL_*). */
export const DRM_IOCTL = {
  GET_CAP: _IOWR(BASE, 0x0c, SIZE.get_cap),
  VERSION: _IOWR(BASE, 0x00, VERSION_SIZE),
  GEM_CLOSE: _IOW(BASE, 0x09, SIZE.gem_close),
  SET_CLIENT_CAP: _IOW(BASE, 0x0d, SIZE.set_client_cap),
  SET_MASTER: _IO(BASE, 0x1e),
  DROP_MASTER: _IO(BASE, 0x1f),
  WAIT_VBLANK: _IOWR(BASE, 0x3a, WAIT_VBLANK_SIZE),
  CRTC_GET_SEQUENCE: _IOWR(BASE, 0x3b, SIZE.crtc_get_sequence),
  MODE_GETRESOURCES: _IOWR(BASE, 0xa0, SIZE.mode_card_res),
  MODE_GETCRTC: _IOWR(BASE, 0xa1, SIZE.mode_crtc),
  MODE_SETCRTC: _IOWR(BASE, 0xa2, SIZE.mode_crtc),
  MODE_GETENCODER: _IOWR(BASE, 0xa6, SIZE.mode_get_encoder),
  MODE_GETCONNECTOR: _IOWR(BASE, 0xa7, SIZE.mode_get_connector),
  MODE_GETFB: _IOWR(BASE, 0xad, SIZE.mode_fb_cmd),
  MODE_RMFB: _IOWR(BASE, 0xaf, 4),
  MODE_PAGE_FLIP: _IOWR(BASE, 0xb0, SIZE.mode_crtc_page_flip),
  MODE_DIRTYFB: _IOWR(BASE, 0xb1, SIZE.mode_fb_dirty_cmd),
  MODE_CREATE_DUMB: _IOWR(BASE, 0xb2, SIZE.mode_create_dumb),
  MODE_MAP_DUMB: _IOWR(BASE, 0xb3, SIZE.mode_map_dumb),
  MODE_DESTROY_DUMB: _IOWR(BASE, 0xb4, SIZE.mode_destroy_dumb),
  MODE_GETPLANERESOURCES: _IOWR(BASE, 0xb5, SIZE.mode_get_plane_res),
  MODE_GETPLANE: _IOWR(BASE, 0xb6, SIZE.mode_get_plane),
  MODE_ADDFB2: _IOWR(BASE, 0xb8, SIZE.mode_fb_cmd2),
} as const;

/** DRM_CAP_* (GET_CAP), by the name `Drm.caps` reports them under. */
export const DRM_CAP = {
  dumbBuffer: 0x1,
  vblankHighCrtc: 0x2,
  dumbPreferredDepth: 0x3,
  dumbPreferShadow: 0x4,
  prime: 0x5,
  timestampMonotonic: 0x6,
  asyncPageFlip: 0x7,
  cursorWidth: 0x8,
  cursorHeight: 0x9,
  addfb2Modifiers: 0x10,
  pageFlipTarget: 0x11,
  crtcInVblankEvent: 0x12,
  syncobj: 0x13,
  syncobjTimeline: 0x14,
} as const;

export const DRM_CLIENT_CAP_UNIVERSAL_PLANES = 2;
export const DRM_MODE_PAGE_FLIP_EVENT = 0x01;
export const DRM_EVENT_VBLANK = 0x01;
export const DRM_EVENT_FLIP_COMPLETE = 0x02;
/** drm_mode_modeinfo.type bit of the connector's preferred mode. */
export const DRM_MODE_TYPE_PREFERRED = 1 << 3;
export const DRM_DISPLAY_MODE_LEN = 32;

/** DRM_MODE_CONNECTOR_* by value, named as the kernel's sysfs names them. */
export const CONNECTOR_TYPES = [
  'Unknown', 'VGA', 'DVI-I', 'DVI-D', 'DVI-A', 'Composite', 'SVIDEO', 'LVDS', 'Component', 'DIN', 'DP',
  'HDMI-A', 'HDMI-B', 'TV', 'eDP', 'Virtual', 'DSI', 'DPI', 'Writeback', 'SPI', 'USB',
] as const;

/** DRM_MODE_ENCODER_* by value. */
export const ENCODER_TYPES = ['none', 'DAC', 'TMDS', 'LVDS', 'TVDAC', 'virtual', 'DSI', 'DPMST', 'DPI'] as const;

/** drm_mode_get_connector.connection: DRM_MODE_CONNECTED (1), DISCONNECTED (2), UNKNOWNCONNECTION (3). */
export const CONNECTION = ['unknown', 'connected', 'disconnected', 'unknown'] as const;

/** fourcc_code(a, b, c, d) of drm_fourcc.h. */
export function fourcc(code: string): number {
  if (code.length !== 4) throw new RangeError(`a fourcc has 4 characters, got "${code}"`);
  return (code.charCodeAt(0) | (code.charCodeAt(1) << 8) | (code.charCodeAt(2) << 16) | (code.charCodeAt(3) << 24)) >>> 0;
}

/** The four characters of a fourcc ('XR24'). */
export function fourccName(value: number): string {
  return String.fromCharCode(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff);
}

/**
 * The scan-out formats devmap draws, by drm_fourcc.h name: the fourcc and
 * the little-endian pixel's channels as fbdev bitfields (what lib/fb's
 * PixelCodec takes).
 */
export const FORMATS = {
  XRGB8888: { fourcc: fourcc('XR24'), bpp: 32, red: [16, 8], green: [8, 8], blue: [0, 8] },
  XBGR8888: { fourcc: fourcc('XB24'), bpp: 32, red: [0, 8], green: [8, 8], blue: [16, 8] },
  RGB888: { fourcc: fourcc('RG24'), bpp: 24, red: [16, 8], green: [8, 8], blue: [0, 8] },
  BGR888: { fourcc: fourcc('BG24'), bpp: 24, red: [0, 8], green: [8, 8], blue: [16, 8] },
  RGB565: { fourcc: fourcc('RG16'), bpp: 16, red: [11, 5], green: [5, 6], blue: [0, 5] },
  XRGB1555: { fourcc: fourcc('XR15'), bpp: 16, red: [10, 5], green: [5, 5], blue: [0, 5] },
} as const;

export type FormatName = keyof typeof FORMATS;

/** The format a dumb buffer of `bpp` bits gets unless another is asked for. */
export const DEFAULT_FORMAT: Record<number, FormatName> = { 32: 'XRGB8888', 24: 'RGB888', 16: 'RGB565' };
