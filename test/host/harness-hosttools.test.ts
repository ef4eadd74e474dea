// Host tools (lib/harness/image/hosttools.ts): the compiler kernel modules
// are built with is the guest kernel's (gcc-12 for 6.1, gcc-14 for 6.12),
// not a fixed one. A fixed gcc-12 made a Debian 13 host, whose
// gcc-arm-linux-gnueabihf brings arm-linux-gnueabihf-gcc-14, fail with
// "still missing after apt-get install: arm-linux-gnueabihf-gcc-12". pahole
// too: 6.12's kbuild runs it on every module (a Debian 13 host without it:
// "pahole: not found", no module built).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { GUEST_TOOLS, kbuildTools, type HostTool } from '../../lib/harness/image/hosttools.js';
import { hostKbuildTools } from '../../lib/harness/image/kmods.js';
import { ARCHES } from '../../lib/harness/machines/arches.js';
import { tempDir } from '../helpers/tmp.js';

const versionedCompilers = (tools: HostTool[]): string[] => tools.flatMap((t) => (/(gcc|g\+\+)-\d+$/.test(t.cmd ?? '') ? [t.cmd!] : []));

/** A headers folder whose .config says which gcc built the kernel. */
function headers(gccVersion: number): { headers: string } {
  const dir = tempDir();
  writeFileSync(join(dir, '.config'), `CONFIG_CC_IS_GCC=y\nCONFIG_GCC_VERSION=${gccVersion}\n`);
  return { headers: dir };
}

describe('host tools for kernel modules', () => {
  it('name no versioned compiler for every guest, nor per architecture', () => {
    expect(versionedCompilers(GUEST_TOOLS)).toEqual([]);
    for (const a of Object.values(ARCHES)) expect(versionedCompilers(a.hostTools ?? []), a.key).toEqual([]);
  });

  it("follow the compiler the kernel's headers name, native and cross, from the package that has it", () => {
    const common = [{ cmd: 'make', pkg: 'make' }, { cmd: 'pahole', pkg: 'pahole' }];
    expect(hostKbuildTools(headers(140200))).toEqual([...common, { cmd: 'gcc-14', pkg: 'gcc-14' }, { cmd: 'cc', pkg: 'gcc' }]);
    expect(hostKbuildTools(headers(120200), ARCHES.armhf)).toEqual([
      ...common,
      { cmd: 'arm-linux-gnueabihf-gcc-12', pkg: 'gcc-12-arm-linux-gnueabihf' },
      { cmd: 'arm-linux-gnueabihf-gcc', pkg: 'gcc-arm-linux-gnueabihf' },
    ]);
    expect(kbuildTools(16, 'aarch64-linux-gnu-')).toContainEqual({ cmd: 'aarch64-linux-gnu-gcc-16', pkg: 'gcc-16-aarch64-linux-gnu' });
  });

  it('refuse headers that do not say their compiler', () => {
    expect(() => hostKbuildTools(headers(Number.NaN))).toThrow(/names no CONFIG_GCC_VERSION/);
  });
});
