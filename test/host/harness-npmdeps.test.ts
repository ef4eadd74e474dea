// What the guest's node_modules holds (lib/harness/image/npmdeps.ts) and
// which addon a guest gets (lib/harness/image/addon.ts), on package layouts
// made here the way npm and pnpm lay them out: devmap installed in a user's
// project, not its own checkout.
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { guestAddon, isCheckout } from '../../lib/harness/image/addon.js';
import { linksOn, nodeModulesClosure, resolvePackage } from '../../lib/harness/image/npmdeps.js';
import { ARCHES } from '../../lib/harness/machines/arches.js';
import { tempDir } from '../helpers/tmp.js';

/** A package folder with a package.json naming `deps` (name -> optional?). */
function pkg(dir: string, name: string, deps: string[] = [], optional: string[] = []): string {
  mkdirSync(dir, { recursive: true });
  const all = [...deps, ...optional];
  writeFileSync(join(dir, 'package.json'), JSON.stringify({
    name, version: '1.0.0',
    dependencies: Object.fromEntries(all.map((d) => [d, '*'])),
    optionalDependencies: Object.fromEntries(optional.map((d) => [d, '*'])),
  }));
  return dir;
}

function link(path: string, target: string): void {
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(target, path);
}

describe("the guest's node_modules", () => {
  it('finds what npm hoisted into the user\'s project, and a nested copy where one package needs another version', () => {
    const proj = realpathSync(tempDir());
    const nm = join(proj, 'node_modules');
    const devmap = pkg(join(nm, 'devmap'), 'devmap', ['yargs', 'pngjs']);
    pkg(join(nm, 'yargs'), 'yargs', ['cliui']);
    pkg(join(nm, 'cliui'), 'cliui');
    pkg(join(nm, 'pngjs'), 'pngjs', ['cliui']);
    pkg(join(nm, 'yargs', 'node_modules', 'cliui'), 'cliui'); // yargs' own version wins for yargs
    const { dirs, links } = nodeModulesClosure(devmap);
    expect(dirs).toEqual([join(nm, 'cliui'), join(nm, 'pngjs'), join(nm, 'yargs'), join(nm, 'yargs', 'node_modules', 'cliui')]);
    expect(links).toEqual([]);
  });

  it("follows pnpm's links: the real folders, and every link on the way at its own path", () => {
    const proj = realpathSync(tempDir());
    const store = join(proj, 'node_modules', '.pnpm');
    const devmap = pkg(join(store, 'devmap@0.1.0', 'node_modules', 'devmap'), 'devmap', ['yargs']);
    link(join(proj, 'node_modules', 'devmap'), '.pnpm/devmap@0.1.0/node_modules/devmap');
    link(join(store, 'devmap@0.1.0', 'node_modules', 'yargs'), '../../yargs@18.0.0/node_modules/yargs');
    const yargs = pkg(join(store, 'yargs@18.0.0', 'node_modules', 'yargs'), 'yargs', ['cliui']);
    link(join(store, 'yargs@18.0.0', 'node_modules', 'cliui'), '../../cliui@9.0.1/node_modules/cliui');
    const cliui = pkg(join(store, 'cliui@9.0.1', 'node_modules', 'cliui'), 'cliui');
    // Node imports devmap from its real folder: that is where packageRoot points.
    const { dirs, links } = nodeModulesClosure(realpathSync(join(proj, 'node_modules', 'devmap')));
    expect(realpathSync(join(proj, 'node_modules', 'devmap'))).toBe(devmap);
    expect(dirs).toEqual([cliui, yargs]);
    expect(links).toEqual([
      { path: join(store, 'devmap@0.1.0', 'node_modules', 'yargs'), target: '../../yargs@18.0.0/node_modules/yargs' },
      { path: join(store, 'yargs@18.0.0', 'node_modules', 'cliui'), target: '../../cliui@9.0.1/node_modules/cliui' },
    ]);
  });

  it('passes links above the package too (a project reached through a linked folder)', () => {
    const base = realpathSync(tempDir());
    pkg(join(base, 'real', 'node_modules', 'a'), 'a');
    link(join(base, 'via'), 'real');
    expect(resolvePackage('a', join(base, 'via', 'src'))).toBe(join(base, 'via', 'node_modules', 'a'));
    expect(linksOn(join(base, 'via', 'node_modules', 'a'))).toEqual([{ path: join(base, 'via'), target: 'real' }]);
  });

  it('never looks in node_modules/node_modules, and goes up to the root', () => {
    const base = realpathSync(tempDir());
    pkg(join(base, 'node_modules', 'node_modules', 'x'), 'x');
    expect(resolvePackage('x', join(base, 'node_modules', 'devmap'))).toBeUndefined();
    pkg(join(base, 'node_modules', 'y'), 'y');
    expect(resolvePackage('y', join(base, 'a', 'b', 'c', 'node_modules', 'devmap'))).toBe(join(base, 'node_modules', 'y'));
  });

  it('brings vitest only when asked (the guest tier), and says how to install what is missing', () => {
    const proj = realpathSync(tempDir());
    const nm = join(proj, 'node_modules');
    const devmap = pkg(join(nm, 'devmap'), 'devmap', ['yargs'], ['not-here']);
    pkg(join(nm, 'yargs'), 'yargs');
    // An optional dependency that is not installed is no error.
    expect(nodeModulesClosure(devmap).dirs).toEqual([join(nm, 'yargs')]);
    expect(() => nodeModulesClosure(devmap, ['vitest'])).toThrow(`package vitest is not installed where Node looks for it from ${devmap} (the guest tier runs it in the guest): run "npm install -D vitest"`);
    pkg(join(nm, 'vitest'), 'vitest', ['@rolldown/binding-linux-x64-gnu']);
    pkg(join(nm, '@rolldown', 'binding-linux-x64-gnu'), '@rolldown/binding-linux-x64-gnu');
    // The bundler's native binding never goes to the guest.
    expect(nodeModulesClosure(devmap, ['vitest']).dirs).toEqual([join(nm, 'vitest'), join(nm, 'yargs')]);
    pkg(join(nm, 'devmap2'), 'devmap', ['gone']);
    expect(() => nodeModulesClosure(join(nm, 'devmap2'))).toThrow(/package gone is not installed .*devmap needs it in the guest\): run "npm install"$/);
  });
});

describe("the guest's addon", () => {
  const log = (): void => {};

  it('an installed package brings the prebuild for the guest arch, at its own path', () => {
    const root = tempDir();
    for (const a of ['x64', 'arm', 'arm64']) {
      mkdirSync(join(root, 'prebuilds', `linux-${a}`), { recursive: true });
      writeFileSync(join(root, 'prebuilds', `linux-${a}`, 'devmap.node'), '');
    }
    expect(isCheckout(root)).toBe(false);
    for (const key of ['x86_64', 'armhf', 'arm64']) {
      const dir = join(root, 'prebuilds', `linux-${ARCHES[key]!.nodeArch}`);
      expect(guestAddon(ARCHES[key]!, log, root)).toEqual({ from: dir, to: dir });
    }
  });

  it("a local build wins for the host's own arch, as node-gyp-build loads it", () => {
    const root = tempDir();
    mkdirSync(join(root, 'build', 'Release'), { recursive: true });
    mkdirSync(join(root, 'prebuilds', 'linux-x64'), { recursive: true });
    const local = join(root, 'build', 'Release', 'devmap.node');
    writeFileSync(local, '');
    expect(guestAddon(ARCHES.x86_64!, log, root)).toEqual({ from: local, to: local });
  });

  it('says which prebuilds a package has when the guest arch has none', () => {
    const root = tempDir();
    mkdirSync(join(root, 'prebuilds', 'linux-x64'), { recursive: true });
    expect(() => guestAddon(ARCHES.arm64!, log, root)).toThrow(`no addon for arm64 guests in ${root}: no build/Release/devmap.node and no prebuilds/linux-arm64/ (its prebuilds: linux-x64); install a devmap package that carries prebuilds/linux-arm64`);
  });

  it('this checkout is one', () => {
    expect(isCheckout()).toBe(true);
  });
});
