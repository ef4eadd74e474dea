// Keeping the text console off the picture. fbcon draws its cursor (and any
// console output) into the framebuffer it is bound to. Two ways out:
//  - detach fbcon from the framebuffer (what the harness guests do at boot:
//    their console is the serial port): echo 0 > /sys/class/vtconsole/vtconN/bind
//  - on a machine that uses the text console, switch the foreground VT to
//    graphics mode (KDSETMODE KD_GRAPHICS): fbcon stops drawing until the VT
//    is switched back with `devmap fb console text` (KD_TEXT).
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { native } from '../native.js';
import { rangeError, withPath } from '../errors.js';

const VTCON = '/sys/class/vtconsole';
const C = native.constants;

export interface VtConsole {
  name: string;
  bound: boolean;
  path: string;
}

/** The kernel's console drivers (vga text, dummy, frame buffer). */
export function listVtConsoles(): VtConsole[] {
  let entries: string[];
  try {
    entries = readdirSync(VTCON);
  } catch {
    return [];
  }
  const read = (p: string): string => readFileSync(p, 'utf8').trim();
  return entries.map((e) => {
    const path = join(VTCON, e);
    return { name: read(join(path, 'name')), bound: read(join(path, 'bind')) === '1', path };
  });
}

/** Whether fbcon is drawing the text console on a framebuffer. */
export function fbconBound(consoles = listVtConsoles()): boolean {
  return consoles.some((c) => c.bound && /frame buffer/i.test(c.name));
}

/** Unbinds fbcon (root). Returns whether it was bound. */
export function detachFbcon(consoles = listVtConsoles()): boolean {
  let was = false;
  for (const c of consoles) {
    if (c.bound && /frame buffer/i.test(c.name)) {
      writeFileSync(join(c.path, 'bind'), '0');
      was = true;
    }
  }
  return was;
}

/** Switches the foreground VT to graphics (fbcon quiet) or back to text mode. */
export function setConsoleMode(mode: 'graphics' | 'text', tty = '/dev/tty0'): void {
  if (mode !== 'graphics' && mode !== 'text') throw rangeError(`mode must be 'graphics' or 'text', got ${String(mode)}`);
  const fd = openSync(tty, 'r+');
  try {
    native.ioctl(fd, C.KDSETMODE, mode === 'graphics' ? C.KD_GRAPHICS : C.KD_TEXT);
  } catch (err) {
    throw withPath(err, tty);
  } finally {
    closeSync(fd);
  }
}
