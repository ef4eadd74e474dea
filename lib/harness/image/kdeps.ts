// Debian's modules ship without modules.dep, and busybox insmod loads one
// file at a time: resolve a machine's wanted modules (by name) to files, with
// their dependencies first, from each module's own `.modinfo depends=`.
// This keeps the machine data short and survives ABI changes that move a
// dependency around (6.1.0-56 needs virtio_ring before virtio, say).
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

import { devmapError } from '../../errors.js';

/** Module name (dashes as underscores) → path relative to lib/modules/<abi>/kernel. */
function indexModules(root: string): Map<string, string> {
  const index = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.ko')) index.set(e.name.slice(0, -3).replace(/-/g, '_'), relative(root, join(dir, e.name)));
    }
  };
  walk(root);
  return index;
}

function dependsOf(file: string): string[] {
  // .modinfo is NUL-separated key=value strings; no ELF parsing needed.
  const m = /\0depends=([^\0]*)\0/.exec(readFileSync(file).toString('latin1'));
  return m?.[1] ? m[1].split(',').filter(Boolean) : [];
}

const cache = new Map<string, Map<string, string>>();

/** Files (relative to `root`) of `names` and everything they need, dependencies first. */
export function resolveModules(root: string, names: string[]): string[] {
  let index = cache.get(root);
  if (!index) cache.set(root, (index = indexModules(root)));
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string, chain: string[]): void => {
    const key = name.replace(/-/g, '_');
    if (seen.has(key)) return;
    const rel = index.get(key);
    if (!rel) throw devmapError('ERR_DEVMAP_MODULE', `kernel module ${key} (wanted by ${chain.join(' -> ') || 'the machine'}) is not in ${root}`);
    seen.add(key);
    for (const dep of dependsOf(join(root, rel))) visit(dep, [...chain, key]);
    order.push(rel);
  };
  for (const n of names) visit(n, []);
  return order;
}
