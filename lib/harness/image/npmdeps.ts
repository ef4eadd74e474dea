// Which installed packages the guest needs: devmap's runtime dependencies
// (plus vitest for the guest tier), with everything they depend on, found
// the way Node finds them from devmap's installed folder: each node_modules
// up to the file system's root (npm hoists into the user's project), and
// through symlinks (pnpm links every package from node_modules/.pnpm). The
// guest gets them at the same paths, links included, so Node's resolution
// there finds what it finds here. Dev-only weight (typescript, cmake-js,
// @types) stays on the host.
import { existsSync, lstatSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

import { devmapError } from '../../errors.js';

interface Manifest {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** What only the guest tier needs: vitest's worker runs in the guest (lib/vitest/pool.ts). */
export const GUEST_TIER_PACKAGES = ['vitest'];

/**
 * Left out although vitest depends on them: the bundler and CSS engines'
 * native bindings (31 MB, ~0.3 s of initramfs unpacking under TCG). Only
 * vitest's worker runs in the guest (lib/vitest/pool.ts), and it does
 * not load them; the vitest CLI itself would not start in the guest.
 */
export const GUEST_SKIP_PACKAGES = /^(@rolldown\/binding-|lightningcss-)/;

/** A symlink to recreate in the guest: `path` (as on the host) pointing at `target` (its readlink). */
export interface GuestLink {
  path: string;
  target: string;
}

export interface NodeModules {
  /** Real package folders, each once, sorted. */
  dirs: string[];
  /** Symlinks on the way to them (pnpm's, or a linked folder above the project), sorted. */
  links: GuestLink[];
}

/** Finds `name` from `fromDir` the way Node does: `node_modules/name` in each folder up to `/` (never node_modules/node_modules). */
export function resolvePackage(name: string, fromDir: string): string | undefined {
  for (let d = fromDir; ; d = dirname(d)) {
    if (basename(d) !== 'node_modules') {
      const candidate = join(d, 'node_modules', name);
      if (existsSync(join(candidate, 'package.json'))) return candidate;
    }
    if (dirname(d) === d) return undefined;
  }
}

/** The symlinks a lookup of `path` passes through, outermost first. */
export function linksOn(path: string): GuestLink[] {
  const out: GuestLink[] = [];
  let at = '/';
  for (const part of path.split('/').filter(Boolean)) {
    const next = join(at, part);
    if (lstatSync(next, { throwIfNoEntry: false })?.isSymbolicLink()) {
      out.push({ path: next, target: readlinkSync(next) });
      // A real path has no links left in it; the rest of `path` goes on from there.
      at = realpathSync(next);
    } else at = next;
  }
  return out;
}

/**
 * The packages the guest's node_modules must hold for `root` (devmap's
 * folder): its dependencies and `extra`, each required (a missing one is an
 * error that says to install it), and what they depend on (optional and
 * peer dependencies only where installed).
 */
export function nodeModulesClosure(root: string, extra: string[] = []): NodeModules {
  const top = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest;
  const dirs = new Set<string>();
  const links = new Map<string, GuestLink>();
  const queue: [string, string, boolean][] = [
    ...Object.keys({ ...top.dependencies, ...top.optionalDependencies }).map((n): [string, string, boolean] => [n, root, !(n in (top.optionalDependencies ?? {}))]),
    ...extra.map((n): [string, string, boolean] => [n, root, true]),
  ];
  while (queue.length) {
    const [name, from, required] = queue.shift()!;
    const found = resolvePackage(name, from);
    if (!found) {
      if (required) {
        const why = extra.includes(name) ? 'the guest tier runs it in the guest' : 'devmap needs it in the guest';
        throw devmapError('ERR_DEVMAP_DEPS', `package ${name} is not installed where Node looks for it from ${root} (${why}): run "npm install${extra.includes(name) ? ` -D ${name}` : ''}"`);
      }
      continue; // optional or peer dependency that is not installed here
    }
    if (GUEST_SKIP_PACKAGES.test(name)) continue;
    for (const l of linksOn(found)) links.set(l.path, l);
    // Node resolves a package's own imports from its real folder.
    const dir = realpathSync(found);
    if (dirs.has(dir)) continue;
    dirs.add(dir);
    const m = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
    for (const n of Object.keys(m.dependencies ?? {})) queue.push([n, dir, !(n in (m.optionalDependencies ?? {}))]);
    for (const n of Object.keys({ ...m.optionalDependencies, ...m.peerDependencies })) queue.push([n, dir, false]);
  }
  return { dirs: [...dirs].sort(), links: [...links.values()].sort((a, b) => a.path.localeCompare(b.path)) };
}
