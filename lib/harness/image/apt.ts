// A private apt configuration per Debian suite, so that guest kernels and
// their build roots can come from a suite other than the host's, for amd64,
// armhf and arm64 alike, without touching the host's /etc/apt (no
// `dpkg --add-architecture`, no extra sources). The archive is the one the
// host's apt already uses (sources.ts), read at run time.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { devmapError } from '../../errors.js';
import { buildOnce, cacheDir, run, type Log } from './cache.js';
import { DEBIAN_KEYRING, ensureHostTools, SUITE_APT_TOOLS } from './hosttools.js';
import { hostArchive, type HostArchive } from './sources.js';

export { hostArchive, parseDeb822, parseOneLine, pickArchive, type AptSource, type HostArchive } from './sources.js';

/** A Debian suite as apt.ts needs it; machines/suites.ts's Suite is one. */
export interface SuiteRef {
  name: string;
  /** The archive carries <name>-updates and <name>-security beside it (sid has neither). */
  stable: boolean;
}

/** Guest arches the harness knows; apt reads all their lists at once. */
export const APT_ARCHES = ['amd64', 'armhf', 'arm64'];

/** Lists older than this are fetched again before use. */
const FRESH_MS = 24 * 3600 * 1000;

/** Private configs updated by this process (by folder). */
const updated = new Set<string>();

/** The cache's name for a downloaded .deb (epoch colons escaped as apt does). */
export const debName = (pkg: string, version: string): string => `${pkg}_${version}.deb`.replace(/:/g, '%3a');

/** The `deb` lines of a suite's private sources list. */
export function sourcesList(suite: SuiteRef, archive: HostArchive): string {
  const line = (uri: string, dist: string): string => `deb [signed-by=${DEBIAN_KEYRING}] ${uri} ${dist} main\n`;
  let text = line(archive.archive, suite.name);
  if (suite.stable) {
    text += line(archive.archive, `${suite.name}-updates`);
    if (archive.security) text += line(archive.security, `${suite.name}-security`);
  }
  return text;
}

/** apt.conf of a private configuration living in `dir`. */
export function aptConf(dir: string): string {
  return [
    `Dir::Etc::SourceList "${dir}/etc/sources.list";`,
    `Dir::Etc::SourceParts "${dir}/etc/sources.list.d";`,
    `Dir::Etc::Preferences "${dir}/etc/preferences";`,
    `Dir::Etc::PreferencesParts "${dir}/etc/preferences.d";`,
    `Dir::State "${dir}/state";`,
    `Dir::State::Lists "${dir}/lists";`,
    // Empty: nothing counts as installed, so candidates are the archive's own.
    `Dir::State::status "${dir}/state/status";`,
    `Dir::Cache "${dir}/cache";`,
    // The host's apt.conf.d is read before this file: a Docker image's turns
    // the binary cache off (every apt-cache call would re-read ~100 MB of
    // lists), and its update hooks act on the host's own apt state.
    'Dir::Cache::pkgcache "pkgcache.bin";',
    'Dir::Cache::srcpkgcache "srcpkgcache.bin";',
    '#clear APT::Update::Pre-Invoke;',
    '#clear APT::Update::Post-Invoke;',
    '#clear APT::Update::Post-Invoke-Success;',
    `APT::Architectures { ${APT_ARCHES.map((a) => `"${a}";`).join(' ')} };`,
    'Acquire::Languages "none";',
    // sid's Release on a mirror can be served past its Valid-Until (seen: a
    // week); the signature is still checked.
    'Acquire::Check-Valid-Until "false";',
    '',
  ].join('\n');
}

/** Writes `text` to `file` unless it is there already; atomically (temp + rename). True when it wrote. */
function writeIfChanged(file: string, text: string): boolean {
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return false;
  writeFileSync(`${file}.tmp-${process.pid}`, text);
  renameSync(`${file}.tmp-${process.pid}`, file);
  return true;
}

const isRoot = (): boolean => process.getuid?.() === 0;
// As root apt drops to the _apt user for downloads, which cannot write our cache.
const sandbox = (): string[] => (isRoot() ? ['-o', 'APT::Sandbox::User=root'] : []);
// apt's labels ("Candidate:") are translated; parse them in English.
const aptEnv = (): NodeJS.ProcessEnv => ({ ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' });

/** The Depends and Pre-Depends of one `apt-cache show` record, by name (the first of each alternative group). */
export function parseDepends(record: string): string[] {
  const first = record.split(/\n\n/)[0] ?? '';
  const names = new Set<string>();
  for (const m of first.matchAll(/^(?:Pre-)?Depends:(.*(?:\n[ \t].*)*)/gm)) {
    for (const group of m[1]!.split(',')) {
      const name = group.split('|')[0]!.trim().replace(/\s*\(.*$/, '').replace(/:any$/, '');
      if (name) names.add(name);
    }
  }
  return [...names];
}

/**
 * apt for one Debian suite, in `cacheDir()/apt/<suite>`: its own sources,
 * lists, cache and an empty dpkg status, amd64 + armhf + arm64.
 */
export class SuiteApt {
  readonly dir: string;
  readonly archive: HostArchive;
  #ready = false;

  /** `archive` defaults to the host's (hostArchive()). */
  constructor(readonly suite: SuiteRef, archive?: HostArchive) {
    if (!/^[a-z][a-z0-9-]*$/.test(suite.name)) throw devmapError('ERR_DEVMAP_SUITE', `not a Debian suite name: "${suite.name}"`);
    this.dir = join(cacheDir(), 'apt', suite.name);
    this.archive = archive ?? hostArchive();
  }

  get conf(): string {
    return join(this.dir, 'apt.conf');
  }

  private get stamp(): string {
    return join(this.dir, 'state', 'updated');
  }

  /** Creates the configuration once (temp folder + rename); rewrites a file whose content moved (another archive). */
  private ensure(): string {
    if (this.#ready) return this.conf;
    const sources = sourcesList(this.suite, this.archive);
    buildOnce(this.dir, (tmp) => {
      for (const d of ['etc/sources.list.d', 'etc/preferences.d', 'lists/partial', 'cache/archives/partial', 'state']) mkdirSync(join(tmp, d), { recursive: true });
      writeFileSync(join(tmp, 'state', 'status'), '');
      writeFileSync(join(tmp, 'etc', 'sources.list'), sources);
      writeFileSync(join(tmp, 'apt.conf'), aptConf(this.dir));
    });
    const moved = [writeIfChanged(join(this.dir, 'etc', 'sources.list'), sources), writeIfChanged(this.conf, aptConf(this.dir))];
    if (moved.some(Boolean)) rmSync(this.stamp, { force: true });
    this.#ready = true;
    return this.conf;
  }

  private hasLists(): boolean {
    return readdirSync(join(this.dir, 'lists')).some((f) => /_Packages(\.\w+)?$/.test(f));
  }

  /** Why the lists need fetching, or undefined when they are fresh. */
  private staleness(): string | undefined {
    if (!this.hasLists()) return 'no package lists yet';
    if (!existsSync(this.stamp)) return 'the last update did not finish';
    if (Date.now() - statSync(this.stamp).mtimeMs > FRESH_MS) return 'lists older than a day';
    return undefined;
  }

  /**
   * apt-get update for this suite when its lists are missing or older than a
   * day (or `force`), at most once per process. A partial failure (a mirror
   * mid-sync fails one index) keeps the other lists; no lists at all throws.
   * True when it ran.
   */
  update(log: Log, { force = false }: { force?: boolean } = {}): boolean {
    const conf = this.ensure();
    if (updated.has(this.dir)) return false;
    const why = force ? 'asked to' : this.staleness();
    if (!why) return false;
    ensureHostTools(log, SUITE_APT_TOOLS);
    updated.add(this.dir);
    log(`apt-get update for ${this.suite.name} (${why}) ...`);
    // flock: a second process (test files run in parallel) waits for the
    // first instead of failing on apt's lists lock. Without --error-on=any a
    // failed fetch is only a warning and the exit status 0.
    const argv = ['apt-get', '-c', conf, ...sandbox(), '-q', '--error-on=any', 'update'];
    const r = spawnSync('flock', [join(this.dir, 'state', 'update.lock'), ...argv], { encoding: 'utf8', env: aptEnv() });
    const tail = (n: number): string => String(r.stderr || r.error?.message || '').trim().split('\n').slice(-n).join('\n');
    if (!this.hasLists()) {
      throw devmapError('ERR_DEVMAP_APT', `apt-get update for ${this.suite.name} failed and there are no package lists (is the archive ${this.archive.archive} reachable?):\n${tail(8)}`);
    }
    if (r.status === 0) {
      writeFileSync(this.stamp, '');
      log(`apt-get update for ${this.suite.name}: ${/^Fetched .*/m.exec(r.stdout)?.[0] ?? 'done'}`);
    } else {
      log(`apt-get update for ${this.suite.name} reported errors (continuing with the lists it has):\n${tail(3)}`);
    }
    return true;
  }

  private aptCache(args: string[]): string | undefined {
    const conf = this.ensure();
    if (!this.hasLists()) throw devmapError('ERR_DEVMAP_APT', `no package lists for ${this.suite.name} yet; call update() first`);
    const r = spawnSync('apt-cache', ['-c', conf, ...args], { encoding: 'utf8', env: aptEnv(), maxBuffer: 64 << 20 });
    return r.status === 0 && r.stdout.trim() ? r.stdout : undefined;
  }

  /** The version apt would take for `pkg` ("linux-image-amd64", "nodejs:armhf"), or undefined if the suite has none. */
  candidate(pkg: string): string | undefined {
    const v = /^\s*Candidate: (\S+)/m.exec(this.aptCache(['policy', pkg]) ?? '')?.[1];
    return v === '(none)' ? undefined : v;
  }

  /** Do the suite's lists have pkg=version? */
  has(pkg: string, version: string): boolean {
    return this.aptCache(['show', `${pkg}=${version}`]) !== undefined;
  }

  /** Direct Depends and Pre-Depends of pkg=version, by name; throws if the lists lack it. */
  depends(pkg: string, version: string): string[] {
    const record = this.aptCache(['show', '--no-all-versions', `${pkg}=${version}`]);
    if (!record) throw devmapError('ERR_DEVMAP_APT', `${this.suite.name} has no ${pkg}=${version}`);
    return parseDepends(record);
  }

  /** pkg=version as `dir/<debName>` (kept if already there), fetched with apt-get download. */
  download(pkg: string, version: string, dir: string, log: Log): string {
    const final = join(dir, debName(pkg, version));
    if (existsSync(final)) return final;
    const conf = this.ensure();
    mkdirSync(dir, { recursive: true });
    const tmp = mkdtempSync(join(dir, '.download-'));
    try {
      log(`downloading ${pkg}=${version} (${this.suite.name})`);
      run('apt-get', ['-c', conf, ...sandbox(), '-q', 'download', `${pkg}=${version}`], { cwd: tmp, env: aptEnv() });
      const got = readdirSync(tmp).find((f) => f.startsWith(`${pkg.replace(/:.*/, '')}_`) && f.endsWith('.deb'));
      if (!got) throw devmapError('ERR_DEVMAP_APT', `apt-get download ${pkg}=${version} produced no .deb`);
      renameSync(join(tmp, got), final);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    return final;
  }
}
