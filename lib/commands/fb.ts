// `devmap fb ...`: draw to and read from a Linux framebuffer.
import type { Argv, CommandModule } from 'yargs';

import { rangeError } from '../errors.js';
import { fbconBound, setConsoleMode } from '../fb/console.js';
import { Framebuffer } from '../fb/framebuffer.js';
import { testCard } from '../fb/pattern.js';
import { fitImage, readPng, writePng } from '../fb/png.js';

interface Common {
  device: string;
}

function withDevice<T>(y: Argv<T>): Argv<T & Common> {
  return y.option('device', { alias: 'd', type: 'string', default: '/dev/fb0', describe: 'framebuffer device' }) as Argv<T & Common>;
}

/** Opens the framebuffer for drawing and keeps fbcon from drawing over it. */
function openForDrawing(device: string): Framebuffer {
  const fb = Framebuffer.open(device);
  // A display that fbcon never set up (a second DRM one) is dark until a mode is set.
  fb.activate();
  if (fbconBound()) {
    // fbcon would draw its cursor over the picture: quiet the VT.
    setConsoleMode('graphics');
    console.error('devmap: the text console is now in graphics mode so it leaves the picture alone; "devmap fb console text" switches it back');
  }
  return fb;
}

function draw(device: string, fn: (fb: Framebuffer) => void): void {
  using fb = openForDrawing(device);
  fn(fb);
  fb.flush();
}

function parseAt(text: string): [number, number] {
  const m = /^(-?\d+),(-?\d+)$/.exec(text);
  if (!m) throw rangeError(`--at must be X,Y (integers), got "${text}"`);
  return [Number(m[1]), Number(m[2])];
}

// Each entry typed by its own arguments, then listed together.
function def<A>(m: Omit<CommandModule<Common, A>, 'handler' | 'builder'> & { builder?: (y: Argv<Common>) => Argv<any>; handler: (a: A) => void }): CommandModule<Common, any> {
  return m as unknown as CommandModule<Common, any>;
}

const sub: CommandModule<Common, any>[] = [
  def({
    command: 'info',
    describe: 'Show the decoded fix and var screen info',
    builder: (y) => y.option('json', { type: 'boolean', default: false }),
    handler: (a: Common & { json: boolean }) => {
      using fb = Framebuffer.open(a.device);
      const i = fb.info;
      if (a.json) {
        console.log(JSON.stringify(i, null, 2));
        return;
      }
      const bf = (n: string, b: { offset: number; length: number }) => `${n}${b.offset}:${b.length}`;
      console.log(`${i.path}: ${i.id}`);
      console.log(`  mode        ${i.xres}x${i.yres}, virtual ${i.xresVirtual}x${i.yresVirtual}, offset ${i.xoffset},${i.yoffset}`);
      console.log(`  pixels      ${i.bitsPerPixel} bpp ${i.format} (${[bf('r', i.red), bf('g', i.green), bf('b', i.blue), bf('a', i.transp)].join(' ')}), ${i.visual}`);
      console.log(`  memory      line_length ${i.lineLength} bytes, smem_len ${i.smemLen} bytes`);
      console.log(`  panning     ypanstep ${i.ypanstep}, ywrapstep ${i.ywrapstep}`);
    },
  }),
  def({
    command: 'clear <color>',
    describe: 'Fill the screen with one colour',
    builder: (y) => y.positional('color', { type: 'string', describe: "'#rrggbb', 0xRRGGBB or a name (red, white, ...)" }),
    handler: (a: Common & { color: string }) => draw(a.device, (fb) => fb.clear(colorArg(a.color))),
  }),
  def({
    command: 'fill <x> <y> <w> <h> <color>',
    describe: 'Fill a rectangle (clipped to the screen)',
    builder: (y) => y.positional('x', { type: 'number' }).positional('y', { type: 'number' }).positional('w', { type: 'number' }).positional('h', { type: 'number' }).positional('color', { type: 'string' }),
    handler: (a: Common & { x: number; y: number; w: number; h: number; color: string }) =>
      draw(a.device, (fb) => fb.fillRect(a.x, a.y, a.w, a.h, colorArg(a.color))),
  }),
  def({
    command: 'draw <image>',
    describe: 'Draw a PNG image',
    builder: (y) =>
      y
        .positional('image', { type: 'string', describe: 'PNG file' })
        .option('at', { type: 'string', default: '0,0', describe: 'top-left corner X,Y' })
        .option('fit', { type: 'boolean', default: false, describe: 'scale to fit the screen, keeping the aspect ratio' }),
    handler: (a: Common & { image: string; at: string; fit: boolean }) => {
      const [x, y] = parseAt(a.at);
      let img = readPng(a.image);
      draw(a.device, (fb) => {
        if (a.fit) img = fitImage(img, fb.width - Math.max(0, x), fb.height - Math.max(0, y));
        fb.putImage(x, y, img);
      });
    },
  }),
  def({
    command: 'capture <out>',
    describe: 'Save what the framebuffer holds as a PNG',
    builder: (y) => y.positional('out', { type: 'string', describe: 'PNG file to write' }),
    handler: (a: Common & { out: string }) => {
      using fb = Framebuffer.open(a.device);
      writePng(a.out, fb.readImage());
      console.log(`saved ${fb.width}x${fb.height} to ${a.out}`);
    },
  }),
  def({
    command: 'pattern',
    describe: 'Draw a test card that shows stride, colour-order and off-by-one errors',
    handler: (a: Common) => draw(a.device, (fb) => fb.putImage(0, 0, testCard(fb.width, fb.height))),
  }),
  def({
    command: 'mode <geometry>',
    describe: 'Set the mode: WIDTHxHEIGHT[xBPP] (FBIOPUT_VSCREENINFO)',
    builder: (y) => y.positional('geometry', { type: 'string', describe: 'e.g. 1024x768 or 800x600x16' }),
    handler: (a: Common & { geometry: string }) => {
      const m = /^(\d+)x(\d+)(?:x(\d+))?$/.exec(a.geometry);
      if (!m) throw rangeError(`geometry must be WIDTHxHEIGHT or WIDTHxHEIGHTxBPP, got "${a.geometry}"`);
      using fb = Framebuffer.open(a.device);
      const i = fb.setMode({ xres: Number(m[1]), yres: Number(m[2]), ...(m[3] ? { bitsPerPixel: Number(m[3]) } : {}) });
      console.log(`${i.xres}x${i.yres}x${i.bitsPerPixel}, line_length ${i.lineLength}`);
    },
  }),
  def({
    command: 'blank <state>',
    describe: 'Blank (on) or unblank (off) the display',
    builder: (y) => y.positional('state', { choices: ['on', 'off'] as const }),
    handler: (a: Common & { state: 'on' | 'off' }) => {
      using fb = Framebuffer.open(a.device);
      fb.blank(a.state === 'on');
    },
  }),
  def({
    command: 'console <mode>',
    describe: 'Switch the foreground VT to text mode (fbcon draws again) or graphics mode (it does not)',
    builder: (y) => y.positional('mode', { choices: ['text', 'graphics'] as const }),
    handler: (a: Common & { mode: 'text' | 'graphics' }) => setConsoleMode(a.mode),
  }),
];

function colorArg(text: string): string | number {
  return /^0x[0-9a-f]+$/i.test(text) ? parseInt(text, 16) : text;
}

export const fbCommand: CommandModule = {
  command: 'fb <command>',
  describe: 'Draw to a Linux framebuffer (/dev/fbN) and read it back',
  builder: (y) => {
    let yy = withDevice(y)
      .example('devmap fb info', 'resolution, stride, pixel format')
      .example('devmap fb pattern', 'draw the test card')
      .example("devmap fb fill 10 10 100 50 '#ff8000'", 'an orange rectangle')
      .example('devmap fb draw logo.png --at 100,50', 'a PNG at (100, 50); --fit scales it to the screen')
      .example('devmap fb capture screen.png', 'save the framebuffer')
      .epilog('Drawing honours line_length and the colour bitfields (XRGB8888, RGB565, RGB888, ...). If fbcon is drawing the text console on the framebuffer, drawing commands switch the VT to graphics mode so the picture stays; "devmap fb console text" switches back.')
      .demandCommand(1, 'Name an fb command: info, clear, fill, draw, capture, pattern, mode, blank, console.');
    for (const c of sub) yy = yy.command(c);
    return yy;
  },
  handler: () => {},
};
