#!/usr/bin/env node
// `npm run prebuild`: the addon prebuilt for every guest architecture
// (lib/harness/machines/arches.ts: linux-x64, linux-arm64, linux-arm) into
// prebuilds/linux-<arch>/devmap.node, where node-gyp-build finds it
// (lib/native.ts, scripts/install.mjs). prebuildify drives node-gyp
// (--napi --strip): one N-API binary (NAPI_VERSION=8, binding.gyp) per arch
// serves every Node major. The host's own arch is built natively, the others
// with Debian's cross compilers (CC/CXX = <prefix>gcc/g++, installed when
// missing). Node's headers come from this machine (scripts/node-gyp.mjs),
// never from a download.
//
// Each arch is built once per hash of what goes into it, in a staging copy of
// the sources inside the devmap cache (~/.cache/devmap/prebuilds or
// $DEVMAP_CACHE/prebuilds): the checkout's own build/ is never touched, and
// the same sources give the same bytes wherever they are built.
//
//   node scripts/prebuild.mjs [--arch x64|arm64|arm]...
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import { nodeDir, nodeGyp } from './node-gyp.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const self = fileURLToPath(import.meta.url);
const say = (line) => process.stderr.write(`prebuild: ${line}\n`);
const args = process.argv.slice(2);
const asked = args.flatMap((a, i) => (args[i - 1] === '--arch' ? [a] : []));

// The harness's cache and host-tool helpers, compiled (npm install runs tsc).
if (!existsSync(join(root, 'dist', 'harness', 'image', 'hosttools.js'))) {
  say('compiling lib/ -> dist/ (tsc)');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (spawnSync(process.execPath, [tsc, '-p', root], { stdio: 'inherit' }).status !== 0) process.exit(1);
}
const { ARCHES } = await import('../dist/harness/machines/arches.js');
const { buildOnce, cacheDir, hashTree, haveCommand, run, sha256 } = await import('../dist/harness/image/cache.js');
const { ensureHostTools } = await import('../dist/harness/image/hosttools.js');

const store = join(cacheDir(), 'prebuilds');
mkdirSync(store, { recursive: true });

// One build at a time: test files that need the prebuilds start in
// parallel on a cold cache, and the second one should find them made.
if (!process.env.DEVMAP_PREBUILD_LOCKED && haveCommand('flock')) {
  const r = spawnSync('flock', [join(store, '.lock'), process.execPath, self, ...args], { stdio: 'inherit', env: { ...process.env, DEVMAP_PREBUILD_LOCKED: '1' } });
  process.exit(r.status ?? 1);
}

const require = createRequire(join(root, 'package.json'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const addonApi = dirname(require.resolve('node-addon-api/package.json'));
const prebuildify = join(dirname(require.resolve('prebuildify/package.json')), 'bin.js');
let nodedir;
try {
  nodedir = nodeDir();
} catch (err) {
  say(err.message);
  process.exit(1);
}
const gyp = nodeGyp();
/** What of Node's install goes into a build: the N-API headers and the gyp settings node-gyp reads. */
const NODE_FILES = ['node_api.h', 'node_api_types.h', 'js_native_api.h', 'js_native_api_types.h', 'common.gypi', 'config.gypi'];

/** The arches to build, each with its compiler prefix ('' when native). */
function plan() {
  const all = Object.values(ARCHES);
  const unknown = asked.filter((n) => !all.some((a) => a.nodeArch === n));
  if (unknown.length) throw new Error(`no arch ${unknown.join(', ')}; the arches are ${all.map((a) => a.nodeArch).join(', ')}`);
  return all.filter((a) => asked.length === 0 || asked.includes(a.nodeArch)).map((a) => {
    if (a.nodeArch === process.arch) return { arch: a, prefix: '' };
    if (!a.cross) throw new Error(`linux-${a.nodeArch} cannot be built on a ${process.arch} host: arches.ts names no cross compiler for it`);
    return { arch: a, prefix: a.cross.prefix };
  });
}

/** Cross compilers from the arch's host tools (arches.ts crossTools), not its QEMU. */
function ensureCompilers({ arch, prefix }) {
  if (prefix) ensureHostTools(say, (arch.hostTools ?? []).filter((t) => t.cmd.startsWith(prefix)));
}

/** Everything that decides the bytes: sources, headers, tool versions, this recipe. */
function buildKey({ arch, prefix }) {
  const gypVersion = gyp.endsWith('.js') ? run(process.execPath, [gyp, '--version']) : run(gyp, ['--version']);
  return sha256(
    arch.nodeArch,
    hashTree(join(root, 'native', 'addon')),
    readFileSync(join(root, 'binding.gyp')),
    hashTree(addonApi),
    ...NODE_FILES.map((f) => readFileSync(join(nodedir, 'include', 'node', f))),
    readFileSync(join(dirname(prebuildify), 'package.json')),
    gypVersion,
    run(`${prefix}g++`, ['--version']).split('\n')[0],
    readFileSync(self)
  ).slice(0, 16);
}

/** The environment node-gyp gets: no flags or npm settings from the caller's shell, the arch's compilers. */
function buildEnv(prefix) {
  const env = { ...process.env, npm_config_nodedir: nodedir };
  for (const k of Object.keys(env)) {
    if (/^(CC|CXX|LINK|AR|CFLAGS|CXXFLAGS|CPPFLAGS|LDFLAGS|MAKEFLAGS|PREBUILD_.*|npm_config_(arch|target|runtime|dist_?url|devdir|build_from_source|jobs))$/i.test(k)) delete env[k];
  }
  if (prefix) Object.assign(env, { CC: `${prefix}gcc`, CXX: `${prefix}g++`, LINK: `${prefix}g++`, AR: `${prefix}ar` });
  return env;
}

/** The sources node-gyp needs, copied: binding.gyp, native/addon, node-addon-api. */
function stage(src) {
  mkdirSync(join(src, 'native'), { recursive: true });
  writeFileSync(join(src, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version, private: true }));
  copyFileSync(join(root, 'binding.gyp'), join(src, 'binding.gyp'));
  cpSync(join(root, 'native', 'addon'), join(src, 'native', 'addon'), { recursive: true });
  cpSync(addonApi, join(src, 'node_modules', 'node-addon-api'), { recursive: true });
}

/** The cached build for one arch: <store>/linux-<arch>-<key>/devmap.node. */
function build(p) {
  const { arch, prefix } = p;
  const dir = buildOnce(join(store, `linux-${arch.nodeArch}-${buildKey(p)}`), (tmp) => {
    say(`building linux-${arch.nodeArch} (${prefix || 'native '}g++, prebuildify --napi --strip)`);
    const src = join(tmp, 'src');
    stage(src);
    run(process.execPath, [
      prebuildify, '--napi', '--strip', '--platform', 'linux', '--arch', arch.nodeArch, '--strip-bin', `${prefix}strip`,
      '--target', process.versions.node, '--node-gyp', gyp, '--cache', join(tmp, 'gyp'), '--cwd', src, '--out', tmp,
    ], { cwd: src, env: buildEnv(prefix) });
    renameSync(join(tmp, 'prebuilds', `linux-${arch.nodeArch}`, `${pkg.name}.node`), join(tmp, 'devmap.node'));
    for (const d of ['src', 'prebuilds', 'gyp']) rmSync(join(tmp, d), { recursive: true, force: true });
  });
  return join(dir, 'devmap.node');
}

/** Copies a build into prebuilds/linux-<arch>/, the only file there. */
function install(file, nodeArch) {
  const dir = join(root, 'prebuilds', `linux-${nodeArch}`);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) if (f !== 'devmap.node') rmSync(join(dir, f), { recursive: true, force: true });
  const dest = join(dir, 'devmap.node');
  if (!existsSync(dest) || !readFileSync(dest).equals(readFileSync(file))) {
    copyFileSync(file, `${dest}.tmp-${process.pid}`);
    renameSync(`${dest}.tmp-${process.pid}`, dest);
  }
  // Newer than the sources it was built from: scripts/prepack.mjs refuses older ones.
  const now = new Date();
  utimesSync(dest, now, now);
  return dest;
}

try {
  const builds = plan();
  builds.forEach(ensureCompilers);
  for (const p of builds) {
    const dest = install(build(p), p.arch.nodeArch);
    const digest = createHash('sha256').update(readFileSync(dest)).digest('hex');
    console.log(`${relative(root, dest)}  ${statSync(dest).size} bytes  sha256 ${digest}`);
  }
  if (asked.length === 0) {
    const keep = new Set(builds.map((p) => `linux-${p.arch.nodeArch}`));
    for (const d of readdirSync(join(root, 'prebuilds'))) if (!keep.has(d)) rmSync(join(root, 'prebuilds', d), { recursive: true, force: true });
  }
} catch (err) {
  say(err.message);
  process.exit(1);
}
