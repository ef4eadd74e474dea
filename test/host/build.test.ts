// The addon also builds with cmake-js from native/CMakeLists.txt (the path
// used to cross-build for other guest architectures), and that build loads.
// cmake is a host tool like the harness's others: installed here the way the
// harness installs it for a cross build (a fresh host has none).
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';

import { ensureHostTools } from '../../lib/harness/image/hosttools.js';
import { tempDir } from '../helpers/tmp.js';

beforeAll(() => ensureHostTools((l) => process.stderr.write(`devmap: ${l}\n`), [{ cmd: 'cmake', pkg: 'cmake' }]), 300_000);

it('cmake-js builds a loadable addon that maps a file', () => {
  const out = join(tempDir(), 'cmake');
  const build = spawnSync(process.execPath, ['scripts/build-addon.mjs', '--cmake', '--out', out], { encoding: 'utf8', timeout: 300_000 });
  expect(build.status, build.stdout + build.stderr).toBe(0);
  const addon = join(out, 'Release', 'devmap.node');
  expect(existsSync(addon)).toBe(true);
  const code = `const m = await import('devmap');
    const { native, addonPath } = await import('./dist/native.js');
    const x = m.mapFile('/proc/self/fd/' + m.memfd('cmake', 4096));
    x.write32(0, 0xabcd); console.log(x.read32(0).toString(16), typeof native.mmap, addonPath);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    encoding: 'utf8',
    env: { ...process.env, DEVMAP_ADDON: addon },
  });
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe(`abcd function ${addon}\n`);
  rmSync(out, { recursive: true, force: true });
}, 300_000);
