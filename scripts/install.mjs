#!/usr/bin/env node
// The package's install script. Nothing to do when an addon for this
// platform and arch loads -- a local build (build/Release) or the package's
// prebuild (prebuilds/linux-<arch>/, found by node-gyp-build as lib/native.ts
// finds it) -- so installs with --ignore-scripts lose nothing there.
// Otherwise the addon is built from source (scripts/build-addon.mjs, with
// the Node headers already on this machine). --build-from-source
// (npm_config_build_from_source=true) always builds.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);

/** The addon file that loads here, or why none does. */
function loadable() {
  try {
    const file = require('node-gyp-build').path(root);
    require(file);
    return { file };
  } catch (err) {
    return { why: String(err.message).split('\n')[0] };
  }
}

/**
 * A local build older than the addon's sources (a checkout after a pull:
 * npm ci keeps build/) is rebuilt, not used: it may lack what the sources
 * now export. A prebuild is what the package shipped, whatever its date.
 */
function stale(file) {
  if (!relative(root, file).startsWith('build')) return false;
  const src = join(root, 'native', 'addon');
  const sources = [join(root, 'binding.gyp'), ...(existsSync(src) ? readdirSync(src).map((f) => join(src, f)) : [])];
  const built = statSync(file).mtimeMs;
  return sources.some((f) => existsSync(f) && statSync(f).mtimeMs > built);
}

let found = process.env.npm_config_build_from_source === 'true' ? { why: '--build-from-source' } : loadable();
if (found.file && stale(found.file)) found = { why: `${relative(root, found.file)} is older than native/addon` };
if (found.file) {
  console.log(`devmap: using ${relative(root, found.file)}`);
} else {
  console.log(`devmap: building the addon from source (${found.why})`);
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-addon.mjs')], { stdio: 'inherit', cwd: root });
  process.exit(r.status ?? 1);
}
