#!/usr/bin/env node
// Builds the addon with node-gyp against the Node headers already on this
// machine (never downloads them): the install prefix of the running `node`
// ships include/node/node_api.h (Debian's nodejs-dev, official tarballs).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

const prefix = dirname(dirname(process.execPath));
const nodedir = process.env.npm_config_nodedir || prefix;
if (!existsSync(join(nodedir, 'include', 'node', 'node_api.h'))) {
  console.error(
    `devmap: no Node headers under ${nodedir}/include/node; install them ` +
      '(Debian: apt-get install nodejs-dev / libnode-dev) or set npm_config_nodedir.'
  );
  process.exit(1);
}
// npm points npm_config_node_gyp at the node-gyp it bundles.
const gyp = process.env.npm_config_node_gyp;
const cmd = gyp ? process.execPath : 'node-gyp';
const args = [...(gyp ? [gyp] : []), 'rebuild', `--nodedir=${nodedir}`];
const r = spawnSync(cmd, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
