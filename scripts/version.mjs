#!/usr/bin/env node
// `npm version X` runs this after writing package.json's new version and
// before its commit: the companion modules' dkms.conf files name the same
// version (PACKAGE_VERSION, which their Kbuild makes MODULE_VERSION), and
// go into that commit.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const kmod = join(root, 'native', 'kmod');
const files = readdirSync(kmod).map((d) => join(kmod, d, 'dkms.conf')).filter((f) => {
  try {
    return readFileSync(f, 'utf8').includes('PACKAGE_VERSION=');
  } catch {
    return false;
  }
});
for (const f of files) writeFileSync(f, readFileSync(f, 'utf8').replace(/^PACKAGE_VERSION=.*$/m, `PACKAGE_VERSION="${version}"`));
console.log(`dkms.conf PACKAGE_VERSION="${version}" in ${files.length} modules`);
if (process.env.npm_lifecycle_event === 'version') spawnSync('git', ['add', ...files], { cwd: root, stdio: 'inherit' });
