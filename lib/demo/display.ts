// Where the demo draws: through KMS when the guest has a DRM card with dumb
// buffers (a dumb buffer set on the first connected output), else through
// the fbdev framebuffer /dev/fb0 (armhf-vexpress's PL111, no DRM driver).
// Either way the caller draws, calls show(), and gets what is on screen.
import { Drm } from '../drm/device.js';
import type { DumbBuffer } from '../drm/dumb.js';
import { pickOutput } from '../drm/presenter.js';
import { Framebuffer } from '../fb/framebuffer.js';
import type { Image } from '../fb/pixel.js';
import type { Mapping } from '../mapping.js';

export interface DemoDisplay {
  /** 'kms' or 'fbdev': the path the picture took. */
  readonly path: 'kms' | 'fbdev';
  /** /dev/dri/cardN or /dev/fbN. */
  readonly device: string;
  /** The kernel driver (kms) or the framebuffer's id (fbdev). */
  readonly driver: string;
  readonly width: number;
  readonly height: number;
  readonly format: string;
  /** Bytes per line. */
  readonly stride: number;
  /** Why the fbdev path was taken (no DRM card, or what the cards said). */
  readonly why?: string;
  readonly memory: Mapping;
  putImage(x: number, y: number, image: Image): void;
  /** Puts the picture on screen and returns it as drawn. */
  show(): Image;
  close(): void;
}

class KmsDisplay implements DemoDisplay {
  readonly path = 'kms';
  readonly device: string;
  readonly driver: string;
  readonly format: string;
  #drm: Drm;
  #buf: DumbBuffer;

  constructor(drm: Drm) {
    this.#drm = drm;
    this.device = drm.path;
    this.driver = drm.driver ?? 'unknown';
    const out = pickOutput(drm.resources(), {});
    this.#buf = drm.createDumb(out.mode.hdisplay, out.mode.vdisplay, 32);
    this.format = this.#buf.format;
    // Set before drawing: bochs-drm moves a dumb buffer into VRAM at its
    // first scan-out (see `devmap drm pattern`).
    drm.setCrtc(out.crtc, out.connector.id, out.mode, this.#buf);
    this.#buf.clear('black');
  }

  get width(): number { return this.#buf.width; }
  get height(): number { return this.#buf.height; }
  get stride(): number { return this.#buf.pitch; }
  get memory(): Mapping { return this.#buf.memory; }

  putImage(x: number, y: number, image: Image): void {
    this.#buf.putImage(x, y, image);
  }

  show(): Image {
    this.#drm.dirty(this.#buf);
    return this.#buf.readImage();
  }

  close(): void {
    this.#drm.close();
  }
}

class FbdevDisplay implements DemoDisplay {
  readonly path = 'fbdev';
  readonly device = '/dev/fb0';
  readonly why: string;
  #fb = Framebuffer.open('/dev/fb0');

  constructor(why: string) {
    this.why = why;
  }

  get driver(): string { return this.#fb.info.id; }
  get width(): number { return this.#fb.width; }
  get height(): number { return this.#fb.height; }
  get format(): string { return this.#fb.info.format; }
  get stride(): number { return this.#fb.info.lineLength; }
  get memory(): Mapping { return this.#fb.memory; }

  putImage(x: number, y: number, image: Image): void {
    this.#fb.putImage(x, y, image);
  }

  show(): Image {
    this.#fb.flush();
    return this.#fb.readImage();
  }

  close(): void {
    this.#fb.close();
  }
}

/** The first DRM card that opens with dumb buffers and master, else /dev/fb0. */
export function openDisplay(): DemoDisplay {
  const refused: string[] = [];
  for (const { path } of Drm.cards()) {
    let drm: Drm | undefined;
    try {
      drm = Drm.open(path);
      return new KmsDisplay(drm);
    } catch (err) {
      // No dumb buffers, no master, no output: the next card, then fbdev.
      drm?.close();
      refused.push(`${path}: ${(err as Error).message}`);
    }
  }
  return new FbdevDisplay(refused.length ? refused.join('; ') : 'no DRM card');
}
