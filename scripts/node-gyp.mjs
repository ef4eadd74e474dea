// What the scripts that build the addon (build-addon.mjs, prebuild.mjs) give
// node-gyp: the Node headers already on this machine -- never a download --
// and node-gyp itself.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * A Node install prefix with include/node/node_api.h: npm_config_nodedir,
 * else the running node's own prefix (Debian's nodejs and libnode-dev, the
 * official tarballs). Throws saying what to install when there is none.
 */
export function nodeDir() {
  const dir = process.env.npm_config_nodedir || dirname(dirname(process.execPath));
  if (!existsSync(join(dir, 'include', 'node', 'node_api.h'))) {
    throw new Error(
      `devmap: no Node headers under ${dir}/include/node; install them ` +
        '(Debian: apt-get install libnode-dev) or set npm_config_nodedir to a Node install prefix.'
    );
  }
  return dir;
}

/**
 * node-gyp as one executable file: the one npm runs scripts with
 * (npm_config_node_gyp), else the one npm bundles next to this node, else
 * node-gyp on PATH.
 */
export function nodeGyp() {
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  const bundled = join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  return existsSync(bundled) ? bundled : 'node-gyp';
}
