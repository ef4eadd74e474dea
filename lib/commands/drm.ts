// `devmap drm ...`: a DRM/KMS card from the command line -- what it has,
// pictures shown through a dumb buffer, the scan-out read back, flips timed.
import type { Argv, CommandModule } from 'yargs';

import { Drm } from '../drm/device.js';
import { Presenter, pickOutput } from '../drm/presenter.js';
import type { Resources } from '../drm/resources.js';
import type { Image } from '../fb/pixel.js';
import { testCard } from '../fb/pattern.js';
import { fitImage, readPng, writePng } from '../fb/png.js';

interface Common {
  device: string;
}

function def<A>(m: Omit<CommandModule<Common, A>, 'handler' | 'builder'> & { builder?: (y: Argv<Common>) => Argv<any>; handler: (a: A) => void | Promise<void> }): CommandModule<Common, any> {
  return m as unknown as CommandModule<Common, any>;
}

function printInfo(drm: Drm, r: Resources): void {
  const caps = Object.entries(drm.caps).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${v}`);
  console.log(`${drm.path}: ${drm.driver ?? 'unknown driver'}, framebuffers up to ${r.limits.maxWidth}x${r.limits.maxHeight}`);
  console.log(`  caps        ${caps.join(' ')}`);
  for (const c of r.connectors) {
    console.log(`  connector   ${c.id} ${c.name} ${c.status}${c.mmWidth ? ` ${c.mmWidth}x${c.mmHeight} mm` : ''}, encoder ${c.encoderId || 'none'}`);
    console.log(`    modes     ${c.modes.map((m) => `${m.name}@${m.vrefresh}${m.preferred ? '*' : ''}`).join(' ') || 'none'}`);
  }
  for (const e of r.encoders) console.log(`  encoder     ${e.id} ${e.type}, CRTC ${e.crtcId || 'none'}, possible CRTCs 0x${e.possibleCrtcs.toString(16)}`);
  for (const c of r.crtcs) console.log(`  crtc        ${c.id} ${c.mode ? `${c.mode.name}@${c.mode.vrefresh}, framebuffer ${c.fbId} at ${c.x},${c.y}` : 'off'}`);
  for (const p of r.planes) console.log(`  plane       ${p.id} CRTC ${p.crtcId || 'none'}, formats ${p.formats.join(' ')}`);
}

/**
 * Shows `make(width, height)` on the card's first connected output until
 * `holdS` seconds passed (0: until SIGINT/SIGTERM). Closing the card gives
 * the display back to the console, so the picture lasts as long as this.
 */
async function show(device: string, mode: string | undefined, holdS: number, make: (w: number, h: number) => Image): Promise<void> {
  using drm = Drm.open(device);
  const out = pickOutput(drm.resources(), { mode });
  using buf = drm.createDumb(out.mode.hdisplay, out.mode.vdisplay, 32);
  drm.setCrtc(out.crtc, out.connector.id, out.mode, buf);
  // Drawn after the modeset: a driver may move the buffer into VRAM then (bochs-drm).
  buf.clear('black');
  const img = make(buf.width, buf.height);
  buf.putImage(Math.floor((buf.width - img.width) / 2), Math.floor((buf.height - img.height) / 2), img);
  drm.dirty(buf);
  console.error(`devmap: showing ${img.width}x${img.height} on ${out.connector.name} (${out.mode.name}) of ${device}; ${holdS ? `for ${holdS} s` : 'Ctrl-C ends it'} (closing the card gives the display back to the console)`);
  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      process.off('SIGINT', done).off('SIGTERM', done);
      resolve();
    };
    if (holdS) timer = setTimeout(done, holdS * 1000);
    process.once('SIGINT', done).once('SIGTERM', done);
  });
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

const hold = (y: Argv<any>) =>
  y.option('mode', { type: 'string', describe: "a mode the connector lists, e.g. 1024x768 (default: its preferred one)" })
    .option('hold', { type: 'number', default: 0, describe: 'seconds to keep the picture (0: until Ctrl-C)' });

const sub: CommandModule<Common, any>[] = [
  def({
    command: 'info',
    describe: 'List connectors and their modes, encoders, CRTCs, planes and capabilities',
    builder: (y) => y.option('json', { type: 'boolean', default: false }),
    handler: (a: Common & { json: boolean }) => {
      using drm = Drm.open(a.device, { master: false });
      const r = drm.resources();
      if (a.json) console.log(JSON.stringify({ path: drm.path, driver: drm.driver, caps: drm.caps, ...r }, null, 2));
      else printInfo(drm, r);
    },
  }),
  def({
    command: 'draw <image>',
    describe: 'Show a PNG (scaled down to fit, centred) through a dumb buffer',
    builder: (y) => hold(y.positional('image', { type: 'string', describe: 'PNG file' })),
    handler: (a: Common & { image: string; mode?: string; hold: number }) => {
      const img = readPng(a.image);
      return show(a.device, a.mode, a.hold, (w, h) => (img.width > w || img.height > h ? fitImage(img, w, h) : img));
    },
  }),
  def({
    command: 'pattern',
    describe: 'Show the test card (stride, colour order, off-by-one) through a dumb buffer',
    builder: (y) => hold(y),
    handler: (a: Common & { mode?: string; hold: number }) => show(a.device, a.mode, a.hold, testCard),
  }),
  def({
    command: 'capture <out>',
    describe: 'Save what the first connected output scans out as a PNG (needs root or DRM master)',
    builder: (y) => y.positional('out', { type: 'string', describe: 'PNG file to write' }),
    handler: (a: Common & { out: string }) => {
      using drm = Drm.open(a.device, { master: false });
      const out = pickOutput(drm.resources(), {});
      const img = drm.capture(out.crtc);
      writePng(a.out, img);
      console.log(`saved ${img.width}x${img.height} of CRTC ${out.crtc} to ${a.out}`);
    },
  }),
  def({
    command: 'flip',
    describe: 'Animate frames double-buffered with page flips and report flips, events and frame times',
    builder: (y) => y.option('frames', { type: 'number', default: 60, describe: 'frames to show' }).option('json', { type: 'boolean', default: false }),
    handler: async (a: Common & { frames: number; json: boolean }) => {
      if (!Number.isInteger(a.frames) || a.frames < 1) throw new RangeError(`--frames must be a positive integer, got ${a.frames}`);
      using drm = Drm.open(a.device);
      using p = Presenter.open(drm);
      const before = drm.events.received;
      const times: number[] = [];
      const { hdisplay: w, vdisplay: h } = p.mode;
      const bar = Math.max(8, Math.floor(w / 16));
      for (let k = 0; k < a.frames; k++) {
        const t = performance.now();
        const x = Math.floor(((k % 32) * (w - bar)) / 31);
        p.back.clear('black');
        p.back.fillRect(x, 0, bar, h, 'white');
        await p.present();
        times.push(performance.now() - t);
      }
      const sorted = [...times].sort((x, y) => x - y);
      const report = { frames: a.frames, flips: p.flips, events: drm.events.received - before, p50Ms: +percentile(sorted, 50).toFixed(2), p99Ms: +percentile(sorted, 99).toFixed(2) };
      if (a.json) console.log(JSON.stringify(report));
      else console.log(`${report.frames} frames on ${p.connector.name} (${p.mode.name}): ${report.flips} flips, ${report.events} events, frame time p50 ${report.p50Ms} ms, p99 ${report.p99Ms} ms`);
    },
  }),
];

export const drmCommand: CommandModule = {
  command: 'drm <command>',
  describe: 'Show pictures through DRM/KMS dumb buffers (/dev/dri/cardN), flip pages, read the scan-out back',
  builder: (y) => {
    let yy = (y.option('device', { alias: 'd', type: 'string', default: '/dev/dri/card0', describe: 'DRM card' }) as Argv<Common>)
      .example('devmap drm info', 'connectors, modes, CRTCs, planes, capabilities (--json too)')
      .example('devmap drm pattern --hold 10', 'the test card for 10 s')
      .example('devmap drm draw logo.png --mode 1024x768', 'a PNG, in that mode, until Ctrl-C')
      .example('devmap drm capture screen.png', 'what the display shows now')
      .example('devmap drm flip --frames 120 --json', '{ frames, flips, events, p50Ms, p99Ms }')
      .epilog('Setting modes and flipping need DRM master: stop a display server that holds it first. When devmap closes the card the kernel gives the display back to the text console (fbdev), so draw and pattern keep the picture until --hold ends or Ctrl-C. No /dev/dri? Load a KMS driver: bochs for QEMU -vga std or bochs-display, virtio_gpu for virtio-gpu.')
      .demandCommand(1, 'Name a drm command: info, draw, pattern, capture, flip.');
    for (const c of sub) yy = yy.command(c);
    return yy;
  },
  handler: () => {},
};
