// Reading a card's KMS objects. Each GET ioctl that returns arrays is asked
// twice: once with zero counts (the kernel fills in the counts), once with
// arrays of that size whose addresses go in the struct's __u64 pointers.
// A count that grew in between (a hotplug) means asking again.
import { DRM_IOCTL, SIZE, fourccName } from './abi.js';
import {
  decodeCardRes, decodeConnectorHead, decodeCrtc, decodeEncoder, decodeMode, struct,
  type CardRes, type ConnectorHead, type CrtcState, type Encoder, type Mode,
} from './structs.js';

/** How resources.ts reaches the driver: an ioctl on the card, and the address of an array's bytes. */
export interface Caller {
  ioctl(request: number, arg: Uint8Array): void;
  address(buffer: ArrayBuffer): bigint;
}

export interface Connector {
  id: number;
  /** 'Virtual-1', 'VGA-1': the connector's type and its number among that type, as the kernel names it. */
  name: string;
  type: string;
  status: 'connected' | 'disconnected' | 'unknown';
  /** The encoder driving it now (0: none). */
  encoderId: number;
  encoders: number[];
  modes: Mode[];
  mmWidth: number;
  mmHeight: number;
}

export interface Plane {
  id: number;
  crtcId: number;
  fbId: number;
  /** Bit i: the i-th CRTC of resources() can use it. */
  possibleCrtcs: number;
  /** Fourcc names the plane scans out ('XR24'). */
  formats: string[];
}

export interface Resources {
  connectors: Connector[];
  encoders: Encoder[];
  crtcs: CrtcState[];
  /** Empty where the driver has none or DRM_CLIENT_CAP_UNIVERSAL_PLANES was refused. */
  planes: Plane[];
  fbs: number[];
  limits: { minWidth: number; maxWidth: number; minHeight: number; maxHeight: number };
}

/** `n` zeroed elements and the address the kernel writes them to. */
function array(c: Caller, n: number, bytesPer: number): [ArrayBuffer, bigint] {
  const buf = new ArrayBuffer(Math.max(1, n) * bytesPer);
  return [buf, n ? c.address(buf) : 0n];
}

const ids = (buf: ArrayBuffer, n: number): number[] => [...new Uint32Array(buf, 0, n)];

export function cardResources(c: Caller): { res: CardRes; fbs: number[]; crtcs: number[]; connectors: number[]; encoders: number[] } {
  for (;;) {
    const [b0, v0] = struct(SIZE.mode_card_res);
    c.ioctl(DRM_IOCTL.MODE_GETRESOURCES, b0);
    const want = decodeCardRes(v0);
    const [b, v] = struct(SIZE.mode_card_res);
    const arrays = (['fbs', 'crtcs', 'connectors', 'encoders'] as const).map((k, i) => {
      const [buf, addr] = array(c, want[k], 4);
      v.setBigUint64(8 * i, addr, true);
      v.setUint32(32 + 4 * i, want[k], true);
      return buf;
    });
    c.ioctl(DRM_IOCTL.MODE_GETRESOURCES, b);
    const got = decodeCardRes(v);
    if (got.fbs > want.fbs || got.crtcs > want.crtcs || got.connectors > want.connectors || got.encoders > want.encoders) continue;
    return { res: got, fbs: ids(arrays[0]!, got.fbs), crtcs: ids(arrays[1]!, got.crtcs), connectors: ids(arrays[2]!, got.connectors), encoders: ids(arrays[3]!, got.encoders) };
  }
}

/** GETCONNECTOR: with zero counts it also probes the connector (its modes are fresh). */
export function getConnector(c: Caller, id: number): Connector {
  for (;;) {
    const [b0, v0] = struct(SIZE.mode_get_connector);
    v0.setUint32(48, id, true);
    c.ioctl(DRM_IOCTL.MODE_GETCONNECTOR, b0);
    const want = decodeConnectorHead(v0).counts;
    const [b, v] = struct(SIZE.mode_get_connector);
    v.setUint32(48, id, true);
    const [encBuf, encAddr] = array(c, want.encoders, 4);
    const [modeBuf, modeAddr] = array(c, want.modes, SIZE.mode_modeinfo);
    const [, propAddr] = array(c, want.props, 4);
    const [, valAddr] = array(c, want.props, 8);
    v.setBigUint64(0, encAddr, true);
    v.setBigUint64(8, modeAddr, true);
    v.setBigUint64(16, propAddr, true);
    v.setBigUint64(24, valAddr, true);
    v.setUint32(32, want.modes, true);
    v.setUint32(36, want.props, true);
    v.setUint32(40, want.encoders, true);
    c.ioctl(DRM_IOCTL.MODE_GETCONNECTOR, b);
    const h = decodeConnectorHead(v);
    if (h.counts.modes > want.modes || h.counts.encoders > want.encoders || h.counts.props > want.props) continue;
    const mv = new DataView(modeBuf);
    return {
      id: h.id, name: `${h.type}-${h.typeId}`, type: h.type, status: h.status, encoderId: h.encoderId,
      encoders: ids(encBuf, h.counts.encoders),
      modes: Array.from({ length: h.counts.modes }, (_, i) => decodeMode(mv, i * SIZE.mode_modeinfo)),
      mmWidth: h.mmWidth, mmHeight: h.mmHeight,
    };
  }
}

export function getEncoder(c: Caller, id: number): Encoder {
  const [b, v] = struct(SIZE.mode_get_encoder);
  v.setUint32(0, id, true);
  c.ioctl(DRM_IOCTL.MODE_GETENCODER, b);
  return decodeEncoder(v);
}

export function getCrtc(c: Caller, id: number): CrtcState {
  const [b, v] = struct(SIZE.mode_crtc);
  v.setUint32(12, id, true);
  c.ioctl(DRM_IOCTL.MODE_GETCRTC, b);
  return decodeCrtc(v);
}

export function planeIds(c: Caller): number[] {
  for (;;) {
    const [b0, v0] = struct(SIZE.mode_get_plane_res);
    c.ioctl(DRM_IOCTL.MODE_GETPLANERESOURCES, b0);
    const n = v0.getUint32(8, true);
    const [b, v] = struct(SIZE.mode_get_plane_res);
    const [buf, addr] = array(c, n, 4);
    v.setBigUint64(0, addr, true);
    v.setUint32(8, n, true);
    c.ioctl(DRM_IOCTL.MODE_GETPLANERESOURCES, b);
    const got = v.getUint32(8, true);
    if (got <= n) return ids(buf, got);
  }
}

export function getPlane(c: Caller, id: number): Plane {
  for (;;) {
    const [b0, v0] = struct(SIZE.mode_get_plane);
    v0.setUint32(0, id, true);
    c.ioctl(DRM_IOCTL.MODE_GETPLANE, b0);
    const n = v0.getUint32(20, true);
    const [b, v] = struct(SIZE.mode_get_plane);
    const [buf, addr] = array(c, n, 4);
    v.setUint32(0, id, true);
    v.setUint32(20, n, true);
    v.setBigUint64(24, addr, true);
    c.ioctl(DRM_IOCTL.MODE_GETPLANE, b);
    const got = v.getUint32(20, true);
    if (got > n) continue;
    const u = (at: number) => v.getUint32(at, true);
    return { id: u(0), crtcId: u(4), fbId: u(8), possibleCrtcs: u(12), formats: ids(buf, got).map(fourccName) };
  }
}
