// A private apt configuration per Debian suite (lib/harness/image/apt.ts):
// the host's archive read from its apt sources in both formats, the files
// of the private configuration, and a real update of trixie's lists in a
// temp cache, leaving the host's /etc/apt as it was.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { aptConf, hostArchive, parseDeb822, parseDepends, parseOneLine, pickArchive, sourcesList, SuiteApt } from '../../lib/harness/image/apt.js';
import { hashTree } from '../../lib/harness/image/cache.js';
import { tempDir } from '../helpers/tmp.js';

const DEB822 = `# the main archive
Types: deb
URIs: http://mirror.example/archive/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# a comment inside a stanza
URIs: http://mirror.example/security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

const THIRD_PARTY = `Types: deb
URIs: http://vendor.example/linux
Suites: bookworm
Components: main stable
Signed-By: /etc/apt/keyrings/vendor.gpg

Types: deb
URIs: http://disabled.example/archive
Suites: trixie
Components: main
Enabled: no
`;

const ONE_LINE = `# deb cdrom:[Debian GNU/Linux 12]/ bookworm main
deb-src http://src.example/archive bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example/archive bookworm main contrib
deb http://mirror.example/security bookworm-security main # trailing comment
deb http://vendor.example/repo nodistro main
`;

describe('the host archive from apt sources', () => {
  it('reads deb822 stanzas: fields, several values, comments, Enabled', () => {
    const [main, security] = parseDeb822(DEB822);
    expect(main).toEqual({ types: ['deb'], uris: ['http://mirror.example/archive/'], suites: ['bookworm', 'bookworm-updates'], components: ['main'], signedBy: '/usr/share/keyrings/debian-archive-keyring.gpg', enabled: true });
    expect(security!.suites).toEqual(['bookworm-security']);
    expect(parseDeb822(THIRD_PARTY).map((s) => s.enabled)).toEqual([true, false]);
  });

  it('reads one-line entries with options and comments', () => {
    const entries = parseOneLine(ONE_LINE);
    expect(entries.map((e) => e.types[0])).toEqual(['deb-src', 'deb', 'deb', 'deb']);
    expect(entries[1]).toEqual({ types: ['deb'], uris: ['http://mirror.example/archive'], suites: ['bookworm'], components: ['main', 'contrib'], signedBy: '/usr/share/keyrings/debian-archive-keyring.gpg', enabled: true });
    expect(entries[2]!.components).toEqual(['main']);
  });

  it('picks the Debian archive and security archive, not a vendor repository, a disabled entry or deb-src', () => {
    expect(pickArchive(parseDeb822(DEB822))).toEqual({ archive: 'http://mirror.example/archive', security: 'http://mirror.example/security' });
    expect(pickArchive(parseOneLine(ONE_LINE))).toEqual({ archive: 'http://mirror.example/archive', security: 'http://mirror.example/security' });
    expect(pickArchive([...parseDeb822(THIRD_PARTY), ...parseDeb822(DEB822)]).archive).toBe('http://mirror.example/archive');
    expect(pickArchive(parseDeb822(THIRD_PARTY))).toEqual({});
  });

  it('reads the host folder: sources.list first, then sources.list.d/*.list and *.sources', () => {
    const etc = tempDir();
    mkdirSync(join(etc, 'sources.list.d'));
    expect(() => hostArchive(etc)).toThrow(/no Debian archive in the host's apt sources .*add a "deb URI bookworm main" entry/);
    writeFileSync(join(etc, 'sources.list.d', 'vendor.sources'), THIRD_PARTY);
    writeFileSync(join(etc, 'sources.list.d', 'debian.sources'), DEB822.replace(/mirror/g, 'second'));
    writeFileSync(join(etc, 'sources.list.d', 'notes.txt'), ONE_LINE.replace(/mirror/g, 'ignored'));
    expect(hostArchive(etc)).toEqual({ archive: 'http://second.example/archive', security: 'http://second.example/security' });
    writeFileSync(join(etc, 'sources.list'), 'deb http://first.example/archive bookworm main\n');
    expect(hostArchive(etc)).toEqual({ archive: 'http://first.example/archive', security: 'http://second.example/security' });
  });
});

describe('the private configuration', () => {
  const archive = { archive: 'http://mirror.example/archive', security: 'http://mirror.example/security' };
  const signed = '[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]';

  it('lists -updates and -security for a stable suite, the suite alone for sid', () => {
    expect(sourcesList({ name: 'trixie', stable: true }, archive)).toBe(
      `deb ${signed} http://mirror.example/archive trixie main\n` +
      `deb ${signed} http://mirror.example/archive trixie-updates main\n` +
      `deb ${signed} http://mirror.example/security trixie-security main\n`);
    expect(sourcesList({ name: 'sid', stable: false }, archive)).toBe(`deb ${signed} http://mirror.example/archive sid main\n`);
  });

  it('keeps apt to its own folder, three arches, no translations, sid past its Valid-Until', () => {
    const conf = aptConf('/c/apt/sid');
    for (const line of ['Dir::State::status "/c/apt/sid/state/status";', 'Dir::Etc::SourceList "/c/apt/sid/etc/sources.list";', 'Dir::State::Lists "/c/apt/sid/lists";',
      'Dir::Cache "/c/apt/sid/cache";', 'APT::Architectures { "amd64"; "armhf"; "arm64"; };', 'Acquire::Languages "none";', 'Acquire::Check-Valid-Until "false";']) {
      expect(conf).toContain(line);
    }
  });

  it('names the direct Depends and Pre-Depends, first of each alternative group', () => {
    const record = 'Package: x\nVersion: 1\nPre-Depends: dpkg (>= 1.19), libc6:any\nDepends: linux-image-6.12.118+deb13-amd64 (= 6.12.118-1),\n a | b (>= 2), c\nDescription: d\n\nPackage: x\nDepends: other\n';
    expect(parseDepends(record)).toEqual(['dpkg', 'libc6', 'linux-image-6.12.118+deb13-amd64', 'a', 'c']);
  });

  it('refuses a suite name that is not one', () => {
    expect(() => new SuiteApt({ name: '../etc', stable: false }, archive)).toThrow(/not a Debian suite name/);
  });
});

const noApt = spawnSync('sh', ['-c', 'command -v apt-get && command -v apt-cache'], { stdio: 'ignore' }).status !== 0;

// Downloads trixie's lists for three arches (~30 MB) into a temp cache.
describe.skipIf(noApt)('trixie through a private configuration (needs apt-get and the network to the host\'s archive)', () => {
  const cache = tempDir();
  const saved = process.env.DEVMAP_CACHE;
  let etcApt: string;
  let apt: SuiteApt;
  const lines: string[] = [];

  beforeAll(() => {
    etcApt = hashTree('/etc/apt');
    process.env.DEVMAP_CACHE = cache;
    apt = new SuiteApt({ name: 'trixie', stable: true });
    expect(apt.update((l) => lines.push(l))).toBe(true);
  }, 180_000);

  afterAll(() => {
    if (saved === undefined) delete process.env.DEVMAP_CACHE;
    else process.env.DEVMAP_CACHE = saved;
  });

  it('keeps its lists in the cache and says what it fetched', () => {
    expect(apt.dir).toBe(join(cache, 'apt', 'trixie'));
    expect(lines.join('\n')).toMatch(/apt-get update for trixie \(no package lists yet\)[^]*Fetched/);
    expect(apt.update(() => {}), 'a second update in the same process').toBe(false);
  });

  it("knows trixie's kernel, its image package and Node for armhf", () => {
    const meta = apt.candidate('linux-image-amd64');
    expect(meta).toMatch(/^6\.12\./);
    expect(apt.candidate('nodejs:armhf')).toMatch(/^20\./);
    expect(apt.candidate('no-such-package-here')).toBeUndefined();
    expect(apt.has('linux-image-amd64', meta!)).toBe(true);
    expect(apt.has('linux-image-amd64', '0.1-1')).toBe(false);
    expect(apt.depends('linux-image-amd64', meta!)).toEqual(expect.arrayContaining([expect.stringMatching(/^linux-image-6\.12\.\d+\+deb13-amd64$/)]));
  });

  it('downloads a .deb of another arch into a folder', () => {
    const version = apt.candidate('fbset:armhf')!;
    const got: string[] = [];
    const deb = apt.download('fbset:armhf', version, join(cache, 'debs'), (l) => got.push(l));
    expect(deb).toBe(join(cache, 'debs', `fbset%3aarmhf_${version.replace(/:/g, '%3a')}.deb`));
    const magic = Buffer.alloc(8);
    const fd = openSync(deb, 'r');
    readSync(fd, magic, 0, 8, 0);
    closeSync(fd);
    expect(magic.toString('latin1')).toBe('!<arch>\n');
    expect(got).toEqual([`downloading fbset:armhf=${version} (trixie)`]);
  }, 60_000);

  it('says which archive it could not reach when no lists came', () => {
    const dead = new SuiteApt({ name: 'bookworm', stable: true }, { archive: 'http://127.0.0.1:9/archive' });
    expect(() => dead.update(() => {})).toThrow(/apt-get update for bookworm failed and there are no package lists \(is the archive http:\/\/127\.0\.0\.1:9\/archive reachable\?\)/);
    expect(() => dead.candidate('make')).toThrow(/no package lists for bookworm yet; call update\(\) first/);
    // Another archive (the host's apt sources changed): the private sources follow.
    const moved = new SuiteApt({ name: 'bookworm', stable: true }, { archive: 'http://127.0.0.1:10/archive' });
    expect(() => moved.candidate('make')).toThrow(/call update\(\) first/);
    expect(readFileSync(join(moved.dir, 'etc', 'sources.list'), 'utf8')).toMatch(/^deb \S+ http:\/\/127\.0\.0\.1:10\/archive bookworm main\n/);
  });

  it("leaves the host's /etc/apt byte for byte as it was", () => {
    expect(hashTree('/etc/apt')).toBe(etcApt);
  });
});
