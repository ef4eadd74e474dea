// The build cache (~/.cache/devmap or $DEVMAP_CACHE), progress lines, and
// small process helpers shared by the guest image builders.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, lstatSync, readlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

import { devmapError } from '../../errors.js';

/** Root of every cached download and build product. */
export function cacheDir(): string {
  const dir = process.env.DEVMAP_CACHE || join(homedir(), '.cache', 'devmap');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A progress line on stderr, so stdout stays the guest command's. */
export type Log = (line: string) => void;
export const stderrLog: Log = (line) => process.stderr.write(`devmap: ${line}\n`);

/** Runs a program to completion; a non-zero exit throws with its stderr. */
export function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20, ...opts });
  if (r.error) throw devmapError('ERR_DEVMAP_COMMAND', `${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) {
    const tail = String(r.stderr ?? '').trim().split('\n').slice(-15).join('\n');
    throw devmapError('ERR_DEVMAP_COMMAND', `${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}\n${tail}`);
  }
  return String(r.stdout ?? '');
}

/**
 * apt-get update that tolerates a partial failure: a mirror mid-sync fails
 * one index now and then (seen: bookworm-security armhf, size mismatch), and
 * apt keeps the other lists. What is then really missing fails later, by name.
 */
export function aptGetUpdate(log: Log): void {
  const r = spawnSync('apt-get', ['update', '-q'], { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) log(`apt-get update reported errors (continuing with the lists it has):\n${String(r.stderr ?? '').trim().split('\n').slice(-3).join('\n')}`);
}

/** Is `cmd` on PATH? */
/** Shell-quotes a command line for display and for the launch scripts. */
export function shellQuote(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export function haveCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function sha256(...parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

/** Content hash of a file or a whole tree (names, modes, link targets, bytes). */
export function hashTree(path: string, h = createHash('sha256')): string {
  const walk = (p: string, rel: string): void => {
    const st = lstatSync(p);
    h.update(`${rel}\0${st.mode}\0`);
    if (st.isSymbolicLink()) h.update(readlinkSync(p));
    else if (st.isDirectory()) for (const n of readdirSync(p).sort()) walk(join(p, n), `${rel}/${n}`);
    else h.update(readFileSync(p));
  };
  walk(path, '');
  return h.digest('hex');
}

/**
 * Builds `final` once: `build` fills a temporary sibling that is renamed into
 * place only when it succeeded, so an interrupted build is never mistaken
 * for a finished one. Two processes building at once (test files run in
 * parallel on a cold cache) both succeed; the first rename wins.
 */
export function buildOnce(final: string, build: (tmp: string) => void): string {
  if (existsSync(final)) return final;
  mkdirSync(dirname(final), { recursive: true });
  const tmp = `${final}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    build(tmp);
    try {
      renameSync(tmp, final);
    } catch (err) {
      if (!existsSync(final)) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return final;
}
