// Debian's modules ship without modules.dep, and busybox insmod loads one
// plain file at a time: resolve a machine's wanted modules (by name) to
// files, with their dependencies first, from each module's own `.modinfo
// depends=`. This keeps the machine data short and survives ABI changes that
// move a dependency around (6.1.0-56 needs virtio_ring before virtio, say).
// Newer kernels (6.12 on) ship modules xz-compressed, and build some of the
// ones a machine names into the kernel itself (modules.builtin).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

import { devmapError } from '../../errors.js';

const KO = /\.ko(\.xz)?$/;

/** Module name (dashes as underscores) → path relative to lib/modules/<abi>/kernel. */
function indexModules(root: string): Map<string, string> {
  const index = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (KO.test(e.name)) index.set(e.name.replace(KO, '').replace(/-/g, '_'), relative(root, join(dir, e.name)));
    }
  };
  walk(root);
  return index;
}

/** Names of the modules built into the kernel (modules.builtin beside kernel/). */
function builtins(root: string): Set<string> {
  const file = join(dirname(root), 'modules.builtin');
  if (!existsSync(file)) return new Set();
  return new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => l.replace(/^.*\//, '').replace(KO, '').replace(/-/g, '_')));
}

/**
 * A module as a plain .ko on the host: the file itself, or (xz) its
 * decompressed copy, made once beside the unpacked tree.
 */
export function moduleFile(root: string, rel: string): string {
  const src = join(root, rel);
  if (!rel.endsWith('.xz')) return src;
  const out = join(dirname(root), 'devmap-plain', rel.replace(/\.xz$/, ''));
  if (existsSync(out)) return out;
  const r = spawnSync('xz', ['-dc', src], { maxBuffer: 1 << 28 });
  if (r.status !== 0) throw devmapError('ERR_DEVMAP_MODULE', `xz could not decompress ${src}: ${String(r.stderr).trim()}`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(`${out}.tmp-${process.pid}`, r.stdout);
  renameSync(`${out}.tmp-${process.pid}`, out);
  return out;
}

/** Where a module sits in the guest, under lib/modules/<abi>/kernel: always a plain .ko. */
export const guestModulePath = (rel: string): string => rel.replace(/\.xz$/, '');

function dependsOf(file: string): string[] {
  // .modinfo is NUL-separated key=value strings; no ELF parsing needed.
  const m = /\0depends=([^\0]*)\0/.exec(readFileSync(file).toString('latin1'));
  return m?.[1] ? m[1].split(',').filter(Boolean) : [];
}

const cache = new Map<string, { index: Map<string, string>; builtin: Set<string> }>();

/**
 * Files (relative to `root`, as shipped: .ko or .ko.xz) of `names` and
 * everything they need, dependencies first; modules built into the kernel
 * are left out.
 */
export function resolveModules(root: string, names: string[]): string[] {
  let known = cache.get(root);
  if (!known) cache.set(root, (known = { index: indexModules(root), builtin: builtins(root) }));
  const { index, builtin } = known;
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string, chain: string[]): void => {
    const key = name.replace(/-/g, '_');
    if (seen.has(key)) return;
    seen.add(key);
    const rel = index.get(key);
    if (!rel) {
      if (builtin.has(key)) return;
      throw devmapError('ERR_DEVMAP_MODULE', `kernel module ${key} (wanted by ${chain.join(' -> ') || 'the machine'}) is not in ${root}`);
    }
    for (const dep of dependsOf(moduleFile(root, rel))) visit(dep, [...chain, key]);
    order.push(rel);
  };
  for (const n of names) visit(n, []);
  return order;
}
