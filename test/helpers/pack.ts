// The package as its users get it: the tarball `npm pack` makes of this
// checkout, and scratch projects that install it the way a user's project
// would. For tests that check devmap from outside (test/host/package.test.ts).
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildOnce, cacheDir } from '../../lib/harness/image/cache.js';
import { tempDir } from './tmp.js';

/** The checkout this helper belongs to. */
export const projectRoot = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

/** The pnpm release scratch projects install with (newer ones may not run on this host's Node). */
export const PNPM = 'pnpm@12.4.2';

/**
 * The caller's environment without what an outer npm run put there
 * (npm_config_*, npm_lifecycle_*, npm_package_*): a scratch install reads
 * the user's npm configuration files, as a user's own install would.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|INIT_CWD$)/i.test(k)));
}

/** Runs a command to completion; throws with its output when it fails. */
function sh(cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, env: cleanEnv(), ...opts });
  if (r.status !== 0) {
    const out = `${String(r.stdout ?? '')}${String(r.stderr ?? '')}`.trim().split('\n').slice(-25).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}):\n${out}`);
  }
  return String(r.stdout);
}

function newest(dir: string): number {
  return Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
}

/** dist/ compiled when missing or older than lib/, as scripts/test.mjs does before the tests. */
function freshDist(): void {
  const dist = join(projectRoot, 'dist');
  if (existsSync(join(dist, 'index.js')) && newest(join(projectRoot, 'lib')) <= newest(dist)) return;
  sh(process.execPath, [join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', projectRoot]);
}

/** Removes tarballs no test has packed for a day (every change of lib/ makes a new one). */
function pruneOld(dir: string, keep: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (p !== keep && Date.now() - statSync(p).mtimeMs > 86_400_000) rmSync(p, { recursive: true, force: true });
  }
}

/**
 * The package tarball (devmap-<version>.tgz) of this checkout as it is now.
 *
 * Makes what goes in first: the prebuilds (scripts/prebuild.mjs: each arch
 * built once per source hash in the devmap cache, so warm it only copies),
 * and dist/ when older than lib/. Then packs with `npm pack
 * --ignore-scripts` (prepack's clean recompile would pull dist/ from under
 * tests running beside this one) into the devmap cache, keyed by the bytes
 * of every file npm packs: each test file (its own process) and each run of
 * an unchanged tree gets the same file, packed once.
 *
 * Synchronous; takes minutes on a cold cache (the three prebuilds), a few
 * seconds warm. Returns an absolute path; callers must not change or delete
 * the file. Throws with the failing command's output.
 */
export function packedTarball(): string {
  sh(process.execPath, [join(projectRoot, 'scripts', 'prebuild.mjs')], { cwd: projectRoot });
  freshDist();
  const [listing] = JSON.parse(sh('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: projectRoot })) as { filename: string; files: { path: string }[] }[];
  const h = createHash('sha256');
  for (const f of listing!.files.map((x) => x.path).sort()) h.update(`${f}\0`).update(readFileSync(join(projectRoot, f))).update('\0');
  const dir = join(cacheDir(), 'pack');
  const final = buildOnce(join(dir, h.digest('hex').slice(0, 16)), (tmp) => {
    mkdirSync(tmp);
    sh('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp], { cwd: projectRoot });
  });
  pruneOld(dir, final);
  const tarball = join(final, listing!.filename);
  if (!existsSync(tarball)) throw new Error(`npm pack made no ${listing!.filename} in ${final}`);
  return tarball;
}

export interface ScratchOptions {
  /** Who installs: 'npm' (default), or 'pnpm' (PNPM, run through npm exec). */
  manager?: 'npm' | 'pnpm';
  /** The project's folder name, and so its package name (default: the temp folder's random one). */
  name?: string;
  /**
   * An exact folder instead (emptied first, kept afterwards): guest images
   * are keyed by the package's path, so a test that boots from the project
   * keeps one stable place and reuses its images run after run.
   */
  dir?: string;
}

/**
 * A new project folder, as a user starts one (`npm init -y`), with `tarball`
 * installed by `npm install --ignore-scripts` (or pnpm's `install
 * --ignore-scripts`): no install script runs, so nothing is compiled and
 * devmap must work from what the tarball carries. Dependencies come from the
 * registry through the package manager's cache (npm: --prefer-offline), so a
 * second call costs seconds.
 *
 * Each call returns a fresh folder (in a tempDir, removed after the calling
 * test file; `name` names it); the installed package is `<folder>/node_modules/devmap` (under
 * pnpm a symlink into node_modules/.pnpm). Throws with the installer's output
 * when it fails; for pnpm, check pnpmMissing() first.
 */
export function scratchProject(tarball: string, { manager = 'npm', name, dir: at }: ScratchOptions = {}): string {
  const dir = at ?? (name ? join(tempDir(), name) : tempDir());
  if (at) rmSync(at, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  sh('npm', ['init', '-y'], { cwd: dir });
  if (manager === 'pnpm') sh('npm', ['exec', '--yes', PNPM, '--', 'install', '--ignore-scripts', tarball], { cwd: dir });
  else sh('npm', ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: dir });
  if (!existsSync(join(dir, 'node_modules', 'devmap', 'package.json'))) throw new Error(`${manager} installed no node_modules/devmap in ${dir}`);
  return dir;
}

/** Why PNPM cannot run here (it could not be fetched, say), or undefined when it can. */
export function pnpmMissing(): string | undefined {
  const r = spawnSync('npm', ['exec', '--yes', PNPM, '--', '--version'], { encoding: 'utf8', env: cleanEnv(), cwd: tempDir() });
  if (r.status === 0 && /^\d+\.\d+\.\d+/.test(r.stdout.trim())) return undefined;
  return `${PNPM} could not be run through npm exec: ${(r.error?.message ?? r.stderr ?? '').trim().split('\n').slice(-2).join(' ')}`;
}
