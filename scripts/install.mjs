#!/usr/bin/env node
// The package's install script. Nothing to do when an addon for this
// platform and arch loads -- a local build (build/Release) or the package's
// prebuild (prebuilds/linux-<arch>/, found by node-gyp-build as lib/native.ts
// finds it) -- so installs with --ignore-scripts lose nothing there.
// Otherwise the addon is built from source (scripts/build-addon.mjs, with
// the Node headers already on this machine). --build-from-source
// (npm_config_build_from_source=true) always builds.
import { spawnSync } from 'node:child_process';
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

const found = process.env.npm_config_build_from_source === 'true' ? { why: '--build-from-source' } : loadable();
if (found.file) {
  console.log(`devmap: using ${relative(root, found.file)}`);
} else {
  console.log(`devmap: building the addon from source (${found.why})`);
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-addon.mjs')], { stdio: 'inherit', cwd: root });
  process.exit(r.status ?? 1);
}
