// Framebuffers, mode setting, page flips and dirty rectangles on a Drm.
import { devmapError, explain, isSystemError, rangeError, typeError } from '../errors.js';
import { DRM_IOCTL, DRM_MODE_PAGE_FLIP_EVENT, FORMATS, SIZE } from './abi.js';
import type { Drm } from './device.js';
import { DumbBuffer } from './dumb.js';
import type { FlipEvent } from './events.js';
import { notMaster } from './master.js';
import { encodeSetCrtc, struct, type CrtcState, type Mode } from './structs.js';

/** A framebuffer: a dumb buffer (its framebuffer is added on first use) or a framebuffer id. */
export type Fb = DumbBuffer | number;

/** The kernel's DRM_MODE_FB_DIRTY_MAX_CLIPS. */
const MAX_CLIPS = 256;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function id(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 0xffffffff) {
    throw rangeError(`${name} must be an object id (an integer in [1, 4294967295]), got ${String(value)}`);
  }
  return value;
}

function addFramebuffer(drm: Drm, buf: DumbBuffer): number {
  drm.check();
  if (!(buf instanceof DumbBuffer)) throw typeError('buffer must be a DumbBuffer from createDumb()');
  if (buf.owner !== drm) throw typeError(`dumb buffer ${buf.handle} belongs to another Drm (handles are per open card)`);
  buf.check();
  if (buf.fbId) return buf.fbId;
  const [b, v] = struct(SIZE.mode_fb_cmd2);
  v.setUint32(4, buf.width, true);
  v.setUint32(8, buf.height, true);
  v.setUint32(12, FORMATS[buf.format].fourcc, true);
  v.setUint32(20, buf.handle, true);
  v.setUint32(36, buf.pitch, true);
  try {
    drm.ioctl(DRM_IOCTL.MODE_ADDFB2, b);
  } catch (err) {
    if (isSystemError(err, 'EINVAL')) explain(err, `${drm.path} (${drm.driver ?? 'unknown driver'}) refused a ${buf.width}x${buf.height} ${buf.format} framebuffer (a format its planes do not scan out? resources().planes lists theirs)`);
    throw err;
  }
  buf.fbId = v.getUint32(0, true);
  return buf.fbId;
}

function fbId(drm: Drm, fb: Fb): number {
  return fb instanceof DumbBuffer ? addFramebuffer(drm, fb) : id(fb, 'fb');
}

function sameMode(a: Mode, b: Mode): boolean {
  return a.name === b.name && a.hdisplay === b.hdisplay && a.vdisplay === b.vdisplay && a.vrefresh === b.vrefresh && a.clock === b.clock;
}

/** The mode `connector` lists that `mode` names; anything else is ERR_DEVMAP_MODE. */
function listedMode(drm: Drm, connector: number, mode: Mode | string): Mode {
  const con = drm.known.get(connector) ?? drm.connector(connector);
  const found = typeof mode === 'string' ? con.modes.find((m) => m.name === mode) : con.modes.find((m) => sameMode(m, mode));
  if (!found) {
    const name = typeof mode === 'string' ? mode : `${mode?.name} (${mode?.hdisplay}x${mode?.vdisplay}@${mode?.vrefresh})`;
    throw devmapError('ERR_DEVMAP_MODE', `connector ${con.name} does not list mode ${name}; it lists ${[...new Set(con.modes.map((m) => m.name))].join(', ') || 'none (is a display attached?)'}`);
  }
  return found;
}

/** The connectors driven through `crtc` now (the ones a restore must drive again). */
function connectorsOn(drm: Drm, crtc: number): number[] {
  const r = drm.resources();
  const encs = new Set(r.encoders.filter((e) => e.crtcId === crtc).map((e) => e.id));
  return r.connectors.filter((c) => encs.has(c.encoderId)).map((c) => c.id);
}

function setCrtcRaw(drm: Drm, crtc: number, fb: number, x: number, y: number, mode: Mode | null, connectors: number[]): void {
  const list = new Uint32Array(Math.max(1, connectors.length));
  list.set(connectors);
  const b = encodeSetCrtc(crtc, fb, x, y, mode, connectors.length ? drm.sys.address(list.buffer) : 0n, connectors.length);
  try {
    drm.ioctl(DRM_IOCTL.MODE_SETCRTC, b);
  } catch (err) {
    throw notMaster(err, drm.path, 'SETCRTC', isSystemError(err, 'EACCES') || isSystemError(err, 'EPERM') ? drm.sys.debugfs(drm.path, 'clients') : undefined);
  }
}

function setCrtc(drm: Drm, crtc: number, connector: number, mode: Mode | string, fb: Fb, pos: { x?: number; y?: number }): void {
  drm.check();
  id(crtc, 'crtc');
  id(connector, 'connector');
  const m = listedMode(drm, connector, mode);
  const x = pos.x ?? 0;
  const y = pos.y ?? 0;
  if (fb instanceof DumbBuffer && (x + m.hdisplay > fb.width || y + m.vdisplay > fb.height)) {
    throw rangeError(`mode ${m.name} at ${x},${y} needs a ${x + m.hdisplay}x${y + m.vdisplay} buffer, got ${fb.width}x${fb.height}`);
  }
  if (!drm.saved.has(crtc)) drm.saved.set(crtc, { state: drm.crtc(crtc), connectors: connectorsOn(drm, crtc) });
  setCrtcRaw(drm, crtc, fbId(drm, fb), x, y, m, [connector]);
}

function restore(drm: Drm, crtc: number, state: CrtcState, connectors: number[]): void {
  if (state.fbId && state.mode) setCrtcRaw(drm, crtc, state.fbId, state.x, state.y, state.mode, connectors);
  else setCrtcRaw(drm, crtc, 0, 0, 0, null, []);
}

async function flipNow(drm: Drm, crtc: number, fb: number, timeoutMs: number): Promise<FlipEvent> {
  drm.check();
  for (let tries = 0; ; tries++) {
    const { cookie, done } = drm.events.expect(timeoutMs, `the flip of CRTC ${crtc}`);
    const [b, v] = struct(SIZE.mode_crtc_page_flip);
    v.setUint32(0, crtc, true);
    v.setUint32(4, fb, true);
    v.setUint32(8, DRM_MODE_PAGE_FLIP_EVENT, true);
    v.setBigUint64(16, cookie, true);
    try {
      drm.ioctl(DRM_IOCTL.MODE_PAGE_FLIP, b);
      return await done;
    } catch (err) {
      done.catch(() => {});
      drm.events.cancel(cookie);
      // EBUSY: a flip this Drm did not ask for (another path's) is still in
      // flight on the CRTC. Ours are queued, so it ends soon: ask again.
      if (isSystemError(err, 'EBUSY') && tries < 100 && !drm.closed) {
        await sleep(2);
        continue;
      }
      if (isSystemError(err, 'EINVAL')) explain(err, `${drm.path} refused to flip CRTC ${crtc} to framebuffer ${fb} (is the CRTC on, set with setCrtc(), and the framebuffer its size?)`);
      throw err;
    }
  }
}

function pageFlip(drm: Drm, crtc: number, fb: Fb, options: { timeoutMs?: number }): Promise<FlipEvent> {
  drm.check();
  id(crtc, 'crtc');
  const timeoutMs = options.timeoutMs ?? 5000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 2 ** 31 - 1) throw rangeError(`timeoutMs must be an integer in [1, 2147483647], got ${timeoutMs}`);
  const target = fbId(drm, fb);
  const before = drm.chains.get(crtc);
  // With nothing pending the flip is asked now; else after the one before it.
  const p = before ? before.then(() => flipNow(drm, crtc, target, timeoutMs), () => flipNow(drm, crtc, target, timeoutMs)) : flipNow(drm, crtc, target, timeoutMs);
  drm.chains.set(crtc, p);
  drm.flipsAsked++;
  const forget = () => {
    drm.flipsAsked--;
    if (drm.chains.get(crtc) === p) drm.chains.delete(crtc);
  };
  p.then(forget, forget);
  return p;
}

function dirty(drm: Drm, fb: Fb, rects: { x: number; y: number; w: number; h: number }[] | undefined): boolean {
  drm.check();
  const target = fbId(drm, fb);
  if (rects !== undefined && (!Array.isArray(rects) || rects.length > MAX_CLIPS)) throw rangeError(`rects must be an array of at most ${MAX_CLIPS} rectangles`);
  const clips = new Uint16Array(Math.max(1, (rects?.length ?? 0) * 4));
  rects?.forEach((r, i) => {
    for (const k of ['x', 'y', 'w', 'h'] as const) {
      if (!Number.isInteger(r[k]) || r[k] < 0 || r[k] > 0xffff) throw rangeError(`rects[${i}].${k} must be an integer in [0, 65535], got ${r[k]}`);
    }
    clips.set([r.x, r.y, Math.min(0xffff, r.x + r.w), Math.min(0xffff, r.y + r.h)], i * 4);
  });
  const [b, v] = struct(SIZE.mode_fb_dirty_cmd);
  v.setUint32(0, target, true);
  v.setUint32(12, rects?.length ?? 0, true);
  v.setBigUint64(16, rects?.length ? drm.sys.address(clips.buffer) : 0n, true);
  try {
    drm.ioctl(DRM_IOCTL.MODE_DIRTYFB, b);
    return true;
  } catch (err) {
    if (isSystemError(err, 'ENOSYS')) return false; // the driver scans out the buffer itself: nothing to flush
    throw err;
  }
}

export const modeset = { addFramebuffer, setCrtc, pageFlip, dirty, restore };
