// Drm: an open /dev/dri/cardN. Raw ioctls of drm.h/drm_mode.h (no libdrm);
// the addon only makes the calls (ioctl, mmap, the fd watcher), the policy
// is here: two-pass resource reads, dumb buffers as Mappings, master
// handling, CRTC restore on close, flips queued per CRTC.
import { devmapError, explain, isSystemError, openDeviceNode, withPath } from '../errors.js';
import { DRM_CLIENT_CAP_UNIVERSAL_PLANES, DRM_IOCTL } from './abi.js';
import { clientCap, driverName, readCaps, type DrmCaps } from './caps.js';
import { DumbBuffer } from './dumb.js';
import { FlipEvents, type FlipEvent } from './events.js';
import { notMaster } from './master.js';
import { modeset, type Fb } from './modeset.js';
import { cardResources, getConnector, getCrtc, getEncoder, getPlane, planeIds, type Caller, type Connector, type Resources } from './resources.js';
import type { CrtcState, Mode } from './structs.js';
import { drmSys, type DrmSys } from './sys.js';
import { createDumb, type DumbOptions } from './alloc.js';
import { capture } from './capture.js';
import { listCards, type DrmCard } from './cards.js';
import { waitVblank } from './vblank.js';
import type { Image } from '../fb/pixel.js';

export type { DrmCaps } from './caps.js';
export type { DrmCard } from './cards.js';

export interface DrmOpenOptions {
  /** Take DRM master at open (default true): modes and flips need it. */
  master?: boolean;
}

export class Drm {
  readonly path: string;
  /** The kernel driver ('bochs-drm', 'virtio_gpu'): DRM_IOCTL_VERSION's name, else sysfs's. */
  readonly driver: string | undefined;
  #fd: number;
  #sys: DrmSys;
  #closed = false;
  #caps: DrmCaps | undefined;
  #limits: { width: number; height: number } | undefined;
  #buffers = new Set<DumbBuffer>();
  /** @internal */
  readonly events: FlipEvents;
  /** @internal connectors as last read (a modeset checks its mode against them) */
  readonly known = new Map<number, Connector>();
  /** @internal each CRTC's state before this Drm first set it, with the connectors it drove */
  readonly saved = new Map<number, { state: CrtcState; connectors: number[] }>();
  /** @internal the tail of each CRTC's queue of flips */
  readonly chains = new Map<number, Promise<unknown>>();

  /** @internal use Drm.open() */
  constructor(path: string, fd: number, sys: DrmSys) {
    this.path = path;
    this.#fd = fd;
    this.#sys = sys;
    this.driver = driverName((r, a) => sys.ioctl(fd, r, a), (b) => sys.address(b)) ?? sys.driver(path);
    this.events = new FlipEvents((cb) => sys.watch(fd, cb), (into) => sys.read(fd, into));
  }

  /** Opens a DRM card (default /dev/dri/card0). */
  static open(path = '/dev/dri/card0', options: DrmOpenOptions = {}): Drm {
    return openDrm(path, options);
  }

  /** The DRM cards (/dev/dri/cardN, in number order) and their drivers: pick one by driver rather than assuming card0. */
  static cards(): DrmCard[] {
    return listCards();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** @internal throws ERR_DEVMAP_CLOSED once closed */
  check(): void {
    if (this.#closed) throw devmapError('ERR_DEVMAP_CLOSED', `${this.path} is already closed`);
  }

  /** @internal one ioctl on the card; its errors carry the card as `path` */
  ioctl(request: number, arg?: Uint8Array | number): number {
    this.check();
    try {
      return this.#sys.ioctl(this.#fd, request, arg);
    } catch (err) {
      throw withPath(err, this.path);
    }
  }

  /** @internal */
  get caller(): Caller {
    return { ioctl: (r, a) => void this.ioctl(r, a), address: (b) => this.#sys.address(b) };
  }

  /** @internal */
  get sys(): DrmSys {
    return this.#sys;
  }

  /** @internal */
  get fd(): number {
    return this.#fd;
  }

  /** The driver's DRM_CAP_* values (null: the kernel does not know that capability). */
  get caps(): DrmCaps {
    this.check();
    this.#caps ??= readCaps((r, a) => this.ioctl(r, a));
    return { ...this.#caps };
  }

  /** The largest framebuffer the card scans out (GETRESOURCES's max_width and max_height). */
  get limits(): { width: number; height: number } {
    if (!this.#limits) {
      const { res } = cardResources(this.caller);
      // A card without KMS reports 0: then the u32 fields' sane bound.
      this.#limits = { width: res.maxWidth || 16384, height: res.maxHeight || 16384 };
    }
    return { ...this.#limits };
  }

  /** Connectors (probed: modes are fresh), encoders, CRTCs, planes and framebuffers of the card. */
  resources(): Resources {
    const c = this.caller;
    const r = cardResources(c);
    const connectors = r.connectors.map((id) => this.connector(id));
    let planes: Resources['planes'] = [];
    try {
      this.ioctl(DRM_IOCTL.SET_CLIENT_CAP, clientCap(DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1));
      planes = planeIds(c).map((id) => getPlane(c, id));
    } catch (err) {
      if (!isSystemError(err)) throw err; // a driver without planes: none listed
    }
    const { minWidth, maxWidth, minHeight, maxHeight } = r.res;
    return {
      connectors, encoders: r.encoders.map((id) => getEncoder(c, id)), crtcs: r.crtcs.map((id) => getCrtc(c, id)),
      planes, fbs: r.fbs, limits: { minWidth, maxWidth, minHeight, maxHeight },
    };
  }

  /** One connector, probed. */
  connector(id: number): Connector {
    const con = getConnector(this.caller, id);
    this.known.set(id, con);
    return con;
  }

  /** One CRTC's current state. */
  crtc(id: number): CrtcState {
    return getCrtc(this.caller, id);
  }

  /** Allocates a dumb buffer in the driver and maps it (bpp 32: XRGB8888, 16: RGB565, 24: RGB888). */
  createDumb(width: number, height: number, bpp = 32, options: DumbOptions = {}): DumbBuffer {
    const buf = createDumb(this, width, height, bpp, options, (b) => this.#buffers.delete(b));
    this.#buffers.add(buf);
    return buf;
  }

  /** Makes a framebuffer of a dumb buffer (DRM_IOCTL_MODE_ADDFB2, the buffer's fourcc). Returns its id; once per buffer. */
  addFramebuffer(buf: DumbBuffer): number {
    return modeset.addFramebuffer(this, buf);
  }

  /** Scans `fb` out on `crtc` driving `connector` in `mode` (one the connector lists, or its name). */
  setCrtc(crtc: number, connector: number, mode: Mode | string, fb: Fb, pos: { x?: number; y?: number } = {}): void {
    modeset.setCrtc(this, crtc, connector, mode, fb, pos);
  }

  /**
   * Shows `fb` on `crtc` at the next vblank. Resolves with the completion
   * event; a flip asked while one is pending on that CRTC waits its turn.
   */
  pageFlip(crtc: number, fb: Fb, options: { timeoutMs?: number } = {}): Promise<FlipEvent> {
    return modeset.pageFlip(this, crtc, fb, options);
  }

  /** What `crtc` scans out now, read back as RGBA (any client's framebuffer: needs master or root). */
  capture(crtc: number): Image {
    return capture(this, crtc);
  }

  /** Flushes drawn rectangles (default: all) to the display. False where the driver needs no flush (ENOSYS). */
  dirty(fb: Fb, rects?: { x: number; y: number; w: number; h: number }[]): boolean {
    return modeset.dirty(this, fb, rects);
  }

  /**
   * Resolves at the next vertical blank of `crtc` with its sequence and time
   * (a DRM_EVENT_VBLANK read off the fd). ERR_DEVMAP_UNSUPPORTED where the
   * driver has no vblank interrupt (bochs-drm, virtio-gpu).
   */
  waitVblank(crtc: number, options: { timeoutMs?: number } = {}): Promise<FlipEvent> {
    return waitVblank(this, crtc, options.timeoutMs ?? 1000);
  }

  /** @internal flips asked and not yet settled */
  flipsAsked = 0;

  /** Flips queued or in flight, all CRTCs. */
  get pendingFlips(): number {
    return this.flipsAsked;
  }

  /** DRM_IOCTL_SET_MASTER: modes and flips need it. */
  setMaster(): void {
    try {
      this.ioctl(DRM_IOCTL.SET_MASTER);
    } catch (err) {
      throw notMaster(err, this.path, 'SET_MASTER', this.#sys.debugfs(this.path, 'clients'));
    }
  }

  /** DRM_IOCTL_DROP_MASTER: lets another client set modes. */
  dropMaster(): void {
    this.ioctl(DRM_IOCTL.DROP_MASTER);
  }

  /**
   * Restores each CRTC this Drm set to what it showed before, rejects
   * pending flips, destroys its dumb buffers (their mappings detach) and
   * closes the card. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.events.close(devmapError('ERR_DEVMAP_CLOSED', `${this.path} was closed with the flip pending`));
    for (const [crtc, { state, connectors }] of this.saved) {
      try {
        modeset.restore(this, crtc, state, connectors);
      } catch {
        // Best effort: closing the last file of the card has the kernel
        // restore its own console mode anyway.
      }
    }
    for (const b of [...this.#buffers]) b.destroy();
    this.#closed = true;
    this.#sys.close(this.#fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Drm.open() through `sys` (internal: tests fake the driver). */
export function openDrm(path = '/dev/dri/card0', options: DrmOpenOptions = {}, sys: DrmSys = drmSys): Drm {
  const fd = openDeviceNode(path, (p) => sys.open(p), `no DRM card at ${path}: load a KMS driver (modprobe bochs for QEMU's -vga std or bochs-display, virtio_gpu for virtio-gpu-pci) or pass another /dev/dri/cardN`);
  const drm = new Drm(path, fd, sys);
  try {
    if (!drm.caps.dumbBuffer) {
      throw devmapError('ERR_DEVMAP_UNSUPPORTED', `${path} (${drm.driver ?? 'unknown driver'}) has no dumb buffers (DRM_CAP_DUMB_BUFFER is 0): devmap draws only through them`);
    }
    if (options.master ?? true) drm.setMaster();
  } catch (err) {
    drm.close();
    if (isSystemError(err, 'ENOTTY')) explain(err, `${path} is not a DRM device (DRM_IOCTL_GET_CAP failed)`);
    throw err;
  }
  return drm;
}
