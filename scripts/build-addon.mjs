#!/usr/bin/env node
// Builds the addon against the Node headers already on this machine (never
// downloads them): the install prefix of the running `node` ships
// include/node/node_api.h (Debian's nodejs/libnode-dev, official tarballs).
//
//   node scripts/build-addon.mjs            node-gyp, from binding.gyp -> build/Release/devmap.node
//   node scripts/build-addon.mjs --cmake [--out DIR] [cmake-js args...]
//                                           cmake-js, from native/CMakeLists.txt -> DIR/Release/devmap.node
//                                           (DIR defaults to build/cmake; pass a toolchain with
//                                           --CDCMAKE_TOOLCHAIN_FILE=... to cross-build)
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { nodeDir, nodeGyp } from './node-gyp.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
let nodedir;
try {
  nodedir = nodeDir();
} catch (err) {
  console.error(err.message);
  process.exit(1);
}

function run(cmd, args, env = process.env) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, env });
  if (r.error) {
    console.error(`devmap: could not run ${cmd}: ${r.error.message}`);
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const argv = process.argv.slice(2);
if (argv[0] === '--cmake') {
  let out = 'build/cmake';
  const rest = [];
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '--out') out = argv[++i];
    else rest.push(argv[i]);
  }
  const require = createRequire(import.meta.url);
  const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  // cmake-js reads the header location from npm's environment variable.
  run(process.execPath, [cmakeJs, 'build', '-d', 'native', '-O', out, ...rest], { ...process.env, npm_config_nodedir: nodedir });
} else {
  const gyp = nodeGyp();
  const script = gyp.endsWith('.js');
  run(script ? process.execPath : gyp, [...(script ? [gyp] : []), 'rebuild', `--nodedir=${nodedir}`]);
}
