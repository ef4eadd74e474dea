// Double buffering on one CRTC: draw into `back`, present() flips it to the
// screen and resolves when the flip completed; the buffer that was shown
// becomes the next `back`. A present() asked while one is pending waits its
// turn (Drm.pageFlip queues per CRTC), so callers never see EBUSY.
import { devmapError, rangeError } from '../errors.js';
import type { FormatName } from './abi.js';
import type { Drm } from './device.js';
import type { DumbBuffer } from './dumb.js';
import type { FlipEvent } from './events.js';
import type { Connector, Resources } from './resources.js';
import type { Mode } from './structs.js';

export interface PresenterOptions {
  /** Connector id (default: the first connected one that lists modes). */
  connector?: number;
  /** A mode the connector lists, or its name (default: its preferred mode, else its first). */
  mode?: Mode | string;
  /** CRTC id (default: the one driving the connector now, else the first its encoders can use). */
  crtc?: number;
  /** Bits per pixel of the two buffers (default 32). */
  bpp?: 16 | 24 | 32;
  format?: FormatName;
}

/** The connector, mode and CRTC a Presenter uses by default, or as asked. */
export function pickOutput(res: Resources, o: PresenterOptions): { connector: Connector; mode: Mode; crtc: number } {
  const connector = o.connector !== undefined
    ? res.connectors.find((c) => c.id === o.connector)
    : res.connectors.find((c) => c.status === 'connected' && c.modes.length) ?? res.connectors.find((c) => c.modes.length);
  if (!connector) {
    throw devmapError('ERR_DEVMAP_NO_OUTPUT', o.connector !== undefined ? `no connector ${o.connector}; the card has ${res.connectors.map((c) => `${c.id} (${c.name})`).join(', ')}` : 'no connector lists a mode: is a display attached?');
  }
  const mode = typeof o.mode === 'object' ? o.mode
    : (o.mode ? connector.modes.find((m) => m.name === o.mode) : connector.modes.find((m) => m.preferred) ?? connector.modes[0]);
  if (!mode) throw devmapError('ERR_DEVMAP_MODE', `connector ${connector.name} does not list mode ${String(o.mode)}; it lists ${connector.modes.map((m) => m.name).join(', ')}`);
  let crtc = o.crtc;
  if (crtc === undefined) {
    const current = res.encoders.find((e) => e.id === connector.encoderId)?.crtcId;
    const possible = res.encoders.filter((e) => connector.encoders.includes(e.id)).reduce((bits, e) => bits | e.possibleCrtcs, 0);
    crtc = current || res.crtcs.find((_, i) => possible & (1 << i))?.id;
  }
  if (!crtc) throw devmapError('ERR_DEVMAP_NO_OUTPUT', `no CRTC can drive connector ${connector.name}`);
  return { connector, mode, crtc };
}

export class Presenter {
  readonly drm: Drm;
  readonly crtc: number;
  readonly connector: Connector;
  readonly mode: Mode;
  #buffers: [DumbBuffer, DumbBuffer];
  #front = 0;
  /** Flips presented and completed. */
  flips = 0;

  /** @internal use Presenter.open() */
  constructor(drm: Drm, out: { connector: Connector; mode: Mode; crtc: number }, buffers: [DumbBuffer, DumbBuffer]) {
    this.drm = drm;
    this.crtc = out.crtc;
    this.connector = out.connector;
    this.mode = out.mode;
    this.#buffers = buffers;
  }

  /** Sets the mode with two buffers of its size (both cleared to black), the first one shown. */
  static open(drm: Drm, options: PresenterOptions = {}): Presenter {
    const out = pickOutput(drm.resources(), options);
    const bpp = options.bpp ?? 32;
    if (![16, 24, 32].includes(bpp)) throw rangeError(`bpp must be 16, 24 or 32, got ${bpp}`);
    const a = drm.createDumb(out.mode.hdisplay, out.mode.vdisplay, bpp, { format: options.format });
    let b: DumbBuffer | undefined;
    try {
      b = drm.createDumb(out.mode.hdisplay, out.mode.vdisplay, bpp, { format: options.format });
      a.clear('black');
      b.clear('black');
      drm.setCrtc(out.crtc, out.connector.id, out.mode, a);
      drm.addFramebuffer(b);
    } catch (err) {
      b?.destroy();
      a.destroy();
      throw err;
    }
    return new Presenter(drm, out, [a, b]);
  }

  /** The buffer on screen. */
  get front(): DumbBuffer {
    return this.#buffers[this.#front]!;
  }

  /** The buffer to draw the next frame into (await the last present() first, or it may still be on screen). */
  get back(): DumbBuffer {
    return this.#buffers[1 - this.#front]!;
  }

  /** Flips `back` onto the screen; resolves with the completion event. */
  async present(options: { timeoutMs?: number } = {}): Promise<FlipEvent> {
    const target = this.back;
    this.#front = 1 - this.#front;
    const e = await this.drm.pageFlip(this.crtc, target, options);
    this.flips++;
    return e;
  }

  /** Destroys both buffers (Drm.close() puts back what the CRTC showed before). Idempotent. */
  close(): void {
    for (const b of this.#buffers) b.destroy();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
