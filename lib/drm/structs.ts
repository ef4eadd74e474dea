// The DRM structs devmap passes, encoded and decoded at the offsets of
// drm/drm.h and drm/drm_mode.h (abi.ts has the sizes; test/host/abi.test.ts
// checks both against the C headers). Little-endian, as every target
// devmap builds for.
import { CONNECTION, CONNECTOR_TYPES, DRM_DISPLAY_MODE_LEN, DRM_MODE_TYPE_PREFERRED, ENCODER_TYPES, SIZE } from './abi.js';

/** A zeroed struct of `size` bytes and a DataView over it. */
export function struct(size: number): [Uint8Array, DataView] {
  const bytes = new Uint8Array(size);
  return [bytes, new DataView(bytes.buffer)];
}

/** A display mode (struct drm_mode_modeinfo). */
export interface Mode {
  /** '1280x800' as the driver names it. */
  name: string;
  /** Pixel clock, kHz. */
  clock: number;
  hdisplay: number;
  hsyncStart: number;
  hsyncEnd: number;
  htotal: number;
  hskew: number;
  vdisplay: number;
  vsyncStart: number;
  vsyncEnd: number;
  vtotal: number;
  vscan: number;
  /** Refresh rate, Hz. */
  vrefresh: number;
  flags: number;
  type: number;
  /** The connector's preferred mode (DRM_MODE_TYPE_PREFERRED). */
  preferred: boolean;
}

const H = ['hdisplay', 'hsyncStart', 'hsyncEnd', 'htotal', 'hskew', 'vdisplay', 'vsyncStart', 'vsyncEnd', 'vtotal', 'vscan'] as const;

export function decodeMode(v: DataView, at: number): Mode {
  const nameBytes = new Uint8Array(v.buffer, v.byteOffset + at + 36, DRM_DISPLAY_MODE_LEN);
  const end = nameBytes.indexOf(0);
  const m = { name: Buffer.from(nameBytes.subarray(0, end < 0 ? DRM_DISPLAY_MODE_LEN : end)).toString('latin1'), clock: v.getUint32(at, true) } as Mode;
  H.forEach((k, i) => (m[k] = v.getUint16(at + 4 + 2 * i, true)));
  m.vrefresh = v.getUint32(at + 24, true);
  m.flags = v.getUint32(at + 28, true);
  m.type = v.getUint32(at + 32, true);
  m.preferred = (m.type & DRM_MODE_TYPE_PREFERRED) !== 0;
  return m;
}

export function encodeMode(v: DataView, at: number, m: Mode): void {
  v.setUint32(at, m.clock, true);
  H.forEach((k, i) => v.setUint16(at + 4 + 2 * i, m[k], true));
  v.setUint32(at + 24, m.vrefresh, true);
  v.setUint32(at + 28, m.flags, true);
  v.setUint32(at + 32, m.type, true);
  const name = Buffer.from(m.name, 'latin1').subarray(0, DRM_DISPLAY_MODE_LEN - 1);
  new Uint8Array(v.buffer, v.byteOffset + at + 36, DRM_DISPLAY_MODE_LEN).set(name);
}

/** The ids of struct drm_mode_card_res's four arrays, and the size limits. */
export interface CardRes {
  fbs: number;
  crtcs: number;
  connectors: number;
  encoders: number;
  minWidth: number;
  maxWidth: number;
  minHeight: number;
  maxHeight: number;
}

export function decodeCardRes(v: DataView): CardRes {
  const u = (at: number) => v.getUint32(at, true);
  return { fbs: u(32), crtcs: u(36), connectors: u(40), encoders: u(44), minWidth: u(48), maxWidth: u(52), minHeight: u(56), maxHeight: u(60) };
}

/** A CRTC's state (struct drm_mode_crtc). */
export interface CrtcState {
  id: number;
  /** The framebuffer it scans out (0: none). */
  fbId: number;
  x: number;
  y: number;
  gammaSize: number;
  /** The mode it runs, if any. */
  mode: Mode | null;
}

export function decodeCrtc(v: DataView): CrtcState {
  const u = (at: number) => v.getUint32(at, true);
  return { id: u(12), fbId: u(16), x: u(20), y: u(24), gammaSize: u(28), mode: u(32) ? decodeMode(v, 36) : null };
}

/** struct drm_mode_crtc for SETCRTC: `connectors` is the address of a __u32 array of `count` ids. */
export function encodeSetCrtc(crtc: number, fb: number, x: number, y: number, mode: Mode | null, connectors: bigint, count: number): Uint8Array {
  const [b, v] = struct(SIZE.mode_crtc);
  v.setBigUint64(0, connectors, true);
  v.setUint32(8, count, true);
  v.setUint32(12, crtc, true);
  v.setUint32(16, fb, true);
  v.setUint32(20, x, true);
  v.setUint32(24, y, true);
  if (mode) {
    v.setUint32(32, 1, true);
    encodeMode(v, 36, mode);
  }
  return b;
}

export interface Encoder {
  id: number;
  type: (typeof ENCODER_TYPES)[number] | `type ${number}`;
  crtcId: number;
  /** Bit i: the i-th CRTC of resources() can drive it. */
  possibleCrtcs: number;
  possibleClones: number;
}

export function decodeEncoder(v: DataView): Encoder {
  const u = (at: number) => v.getUint32(at, true);
  const t = u(4);
  return { id: u(0), type: ENCODER_TYPES[t] ?? `type ${t}`, crtcId: u(8), possibleCrtcs: u(12), possibleClones: u(16) };
}

/** The fixed part of struct drm_mode_get_connector (the arrays are read separately). */
export interface ConnectorHead {
  counts: { modes: number; props: number; encoders: number };
  encoderId: number;
  id: number;
  type: string;
  typeId: number;
  status: (typeof CONNECTION)[number];
  mmWidth: number;
  mmHeight: number;
}

export function decodeConnectorHead(v: DataView): ConnectorHead {
  const u = (at: number) => v.getUint32(at, true);
  const t = u(52);
  return {
    counts: { modes: u(32), props: u(36), encoders: u(40) },
    encoderId: u(44), id: u(48), type: CONNECTOR_TYPES[t] ?? `type ${t}`, typeId: u(56),
    status: CONNECTION[u(60)] ?? 'unknown', mmWidth: u(64), mmHeight: u(68),
  };
}

/** A page flip's completion (struct drm_event_vblank of a DRM_EVENT_FLIP_COMPLETE). */
export interface VblankEvent {
  type: number;
  userData: bigint;
  tvSec: number;
  tvUsec: number;
  sequence: number;
  crtcId: number;
}

/**
 * The events in what one read(2) of a DRM fd returned: each starts with
 * struct drm_event { type, length }; ones devmap does not know are skipped.
 */
export function decodeEvents(bytes: Uint8Array): VblankEvent[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: VblankEvent[] = [];
  for (let at = 0; at + SIZE.event <= bytes.length;) {
    const type = v.getUint32(at, true);
    const length = v.getUint32(at + 4, true);
    if (length < SIZE.event || at + length > bytes.length) break;
    if (length >= SIZE.event_vblank) {
      out.push({ type, userData: v.getBigUint64(at + 8, true), tvSec: v.getUint32(at + 16, true), tvUsec: v.getUint32(at + 20, true), sequence: v.getUint32(at + 24, true), crtcId: v.getUint32(at + 28, true) });
    }
    at += length;
  }
  return out;
}
