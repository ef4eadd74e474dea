// Which addon a guest loads, put where node-gyp-build looks for it there.
// devmap's own checkout builds it: the host's build/Release for a guest of
// the host's arch, a cmake-js cross build for another (always fresh, cached
// by the sources' hash). An installed package has no compiler behind it: it
// brings the prebuild for the guest's arch, as it would be loaded on a
// machine of that arch.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { devmapError } from '../../errors.js';
import { packageRoot } from '../../paths.js';
import type { GuestArch } from '../machines/machines.js';
import type { Log } from './cache.js';
import { crossAddon, isForeign } from './foreign.js';
import type { GuestAddon } from './rootfs.js';

/** devmap's own source tree (not a package installed from a tarball). */
export function isCheckout(root = packageRoot): boolean {
  return existsSync(join(root, 'lib', 'native.ts')) && existsSync(join(root, 'native', 'CMakeLists.txt'));
}

export function guestAddon(a: GuestArch, log: Log, root = packageRoot): GuestAddon {
  const local = join(root, 'build', 'Release', 'devmap.node');
  if (!isForeign(a) && existsSync(local)) return { from: local, to: local };
  if (isForeign(a) && isCheckout(root)) return { from: crossAddon(a, log), to: local };
  const prebuilt = join(root, 'prebuilds', `linux-${a.nodeArch}`);
  if (existsSync(prebuilt)) return { from: prebuilt, to: prebuilt };
  const have = existsSync(join(root, 'prebuilds')) ? readdirSync(join(root, 'prebuilds')).join(', ') || 'none' : 'none';
  const what = isCheckout(root) ? 'run "npm install" there (it builds the addon)' : `install a devmap package that carries prebuilds/linux-${a.nodeArch}, or run "npm rebuild devmap" for this host's own arch`;
  throw devmapError('ERR_DEVMAP_BUILD', `no addon for ${a.key} guests in ${root}: no build/Release/devmap.node and no prebuilds/linux-${a.nodeArch}/ (its prebuilds: ${have}); ${what}`);
}
