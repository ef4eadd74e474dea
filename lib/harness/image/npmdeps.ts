// Which installed packages the guest needs: the runtime dependencies plus
// vitest (the guest tier runs it), with everything they depend on, as
// Node's resolution would find them. Dev-only weight (typescript, cmake-js,
// @types) stays on the host.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { devmapError } from '../../errors.js';

interface Manifest {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** Extra top-level packages the guest needs beyond `dependencies`. */
export const GUEST_EXTRA_PACKAGES = ['vitest'];

/**
 * Left out although vitest depends on them: the bundler and CSS engines'
 * native bindings (31 MB, ~0.3 s of initramfs unpacking under TCG). Only
 * vitest's worker runs in the guest (lib/harness/session/vitest-pool.ts), and it does
 * not load them; the vitest CLI itself would not start in the guest.
 */
export const GUEST_SKIP_PACKAGES = /^(@rolldown\/binding-|lightningcss-)/;

/** Finds `name` from `fromDir` the way Node does: each node_modules up the tree. */
function resolvePackage(name: string, fromDir: string, root: string): string | undefined {
  for (let d = fromDir; d.startsWith(root); d = dirname(d)) {
    const candidate = join(d, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (d === root) break;
  }
  return undefined;
}

/** Absolute package folders, each once, that the guest's node_modules must hold. */
export function nodeModulesClosure(root: string, extra = GUEST_EXTRA_PACKAGES): string[] {
  const top = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest;
  const seen = new Set<string>();
  const queue: [string, string, boolean][] = [...Object.keys(top.dependencies ?? {}), ...extra].map((n) => [n, root, true]);
  while (queue.length) {
    const [name, from, required] = queue.shift()!;
    const dir = resolvePackage(name, from, root);
    if (!dir) {
      if (required) throw devmapError('ERR_DEVMAP_DEPS', `package ${name} (needed in the guest) is not installed: run "npm install"`);
      continue; // optional or peer dependency that is not installed here
    }
    if (seen.has(dir) || GUEST_SKIP_PACKAGES.test(name)) continue;
    seen.add(dir);
    const m = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
    for (const n of Object.keys(m.dependencies ?? {})) queue.push([n, dir, !(n in (m.optionalDependencies ?? {}))]);
    for (const n of Object.keys({ ...m.optionalDependencies, ...m.peerDependencies })) queue.push([n, dir, false]);
  }
  return [...seen].sort();
}
