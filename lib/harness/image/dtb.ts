// A board's device tree from the kernel package, with a fresh 64-byte
// /chosen/rng-seed for each boot. Without it Node's first start on
// vexpress waits ~10 s for the kernel's RNG (the board has no entropy
// source); the kernel credits a bootloader seed (RANDOM_TRUST_BOOTLOADER).
// QEMU's own dtbs (the ARM virt machine) carry a seed already.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { devmapError } from '../../errors.js';
import { buildOnce, cacheDir, run, sha256 } from './cache.js';
import type { GuestKernel } from './kernel.js';

/** Writes `name` (a .dtb of the kernel package) to `out` with a new rng-seed. */
export function seededDtb(kernel: GuestKernel, name: string, out: string): string {
  const src = join(kernel.dtbs, name);
  let blob: Buffer;
  try {
    blob = readFileSync(src);
  } catch {
    throw devmapError('ERR_DEVMAP_DTB', `${name} is not in the kernel package (${kernel.dtbs})`);
  }
  // Decompiled once; compiling the source plus the seed node takes ms.
  const dts = buildOnce(join(cacheDir(), 'dtb', `${name}-${sha256(blob).slice(0, 16)}.dts`), (tmp) => {
    run('dtc', ['-q', '-I', 'dtb', '-O', 'dts', '-o', tmp, src]);
  });
  const seed = [...randomBytes(64)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  const text = `${readFileSync(dts, 'utf8')}\n/ { chosen { rng-seed = [${seed}]; }; };\n`;
  writeFileSync(`${out}.dts`, text);
  run('dtc', ['-q', '-I', 'dts', '-O', 'dtb', '-o', out, `${out}.dts`]);
  return out;
}
