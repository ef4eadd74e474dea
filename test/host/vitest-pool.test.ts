// devmap/vitest as a user has it: devmap and vitest installed from packages
// into a scratch project (not this checkout), whose own vitest config puts
// devmapPool in charge. Its suite -- several files: their driver built and
// loaded, an ivshmem check from both sides, a screen assertion, and two
// files that each fail if a previous file left something in the guest --
// runs in QEMU guests, twice: the first run boots and saves the snapshot,
// the second (as two shards) restores it for every file without booting.
// Then a failing screen assertion, and the artifacts it names.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { encodePng } from '../../lib/fb/png.js';
import { cacheDir } from '../../lib/harness/image/cache.js';
import { packedTarball, scratchProject } from '../helpers/pack.js';
import { tempDir } from '../helpers/tmp.js';

const root = join(import.meta.dirname, '..', '..');
const RUN_MS = 900_000;
const why = process.getuid?.() !== 0 ? 'needs root (the harness installs QEMU and builds modules)' : '';
const vitestVersion = (createRequire(import.meta.url)('vitest/package.json') as { version: string }).version;

const CONFIG = `import { defineConfig } from 'vitest/config';
import { devmapPool } from 'devmap/vitest';

export default defineConfig({
  test: {
    include: [process.env.SPECS || 'test/**/*.test.mjs'],
    pool: devmapPool({ kmod: ['./driver'], kparams: ['mmapdemo.pages=8'], env: { GREETING: 'hello' } }),
    maxWorkers: 1,
    testTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});
`;

/** A spec that draws a red 64x48 box at (40, 30) on /dev/fb0 and expects test/expected/PNG there. */
function screenSpec(name: string, png: string, more: string): string {
  return `import { expect, it } from 'vitest';
import { Framebuffer } from 'devmap';
import { screenshot } from 'devmap/vitest';

it('${name}', async () => {
  const fb = Framebuffer.open('/dev/fb0');
  fb.clear('black');
  fb.fillRect(40, 30, 64, 48, 'red');
  fb.flush();
  await expect(() => screenshot({ fb: '/dev/fb0' })).toMatchScreen('test/expected/${png}', { at: [40, 30]${more} });
  fb.close();
});
`;
}

const SPECS: Record<string, string> = {
  'test/driver.test.mjs': `import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { expect, it } from 'vitest';
import { mapFile } from 'devmap';

it('the project\\'s driver is loaded with its parameter; what Node writes in its mapping the driver reads', () => {
  expect(readFileSync('/sys/module/mmapdemo/parameters/pages', 'utf8').trim()).toBe('8');
  const m = mapFile('/dev/mmapdemo', { length: 8 * 4096 });
  m.bytes.fill(0x5a, 7 * 4096);
  const fd = openSync('/dev/mmapdemo', 'r');
  const seen = Buffer.alloc(4096);
  readSync(fd, seen, 0, 4096, 7 * 4096);
  closeSync(fd);
  expect(seen.every((b) => b === 0x5a)).toBe(true);
  m.unmap();
  expect(process.env.GREETING).toBe('hello');
});
`,
  'test/ivshmem.test.mjs': `import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { Ivshmem } from 'devmap';
import { hostIvshmem } from 'devmap/vitest';

it('what the guest writes into ivshmem the host reads in its file, and back', async () => {
  const shm = Ivshmem.open();
  const mine = randomBytes(64);
  shm.memory.bytes.set(mine, 4096);
  expect(Buffer.from(await hostIvshmem.read(4096, 64)).equals(mine)).toBe(true);
  const theirs = randomBytes(64);
  await hostIvshmem.write(8192, theirs);
  expect(Buffer.from(shm.memory.bytes.subarray(8192, 8192 + 64)).equals(theirs)).toBe(true);
  shm.close();
});
`,
  'test/screen.test.mjs': screenSpec('a box drawn to /dev/fb0 is on the screen the host sees', 'red-box.png', ''),
  ...Object.fromEntries(['a', 'b'].map((f) => [`test/isolated-${f}.test.mjs`, `import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';

it('sees nothing a previous file left in the guest', () => {
  expect(existsSync('/tmp/left-behind') ? readFileSync('/tmp/left-behind', 'utf8') : 'nothing').toBe('nothing');
  writeFileSync('/tmp/left-behind', 'isolated-${f}');
});
`])),
  'failing/crash.test.mjs': `import { writeFileSync } from 'node:fs';
import { it } from 'vitest';

it('panics the guest kernel', async () => {
  writeFileSync('/proc/sys/kernel/sysrq', '1');
  writeFileSync('/proc/sysrq-trigger', 'c');
  await new Promise((r) => setTimeout(r, 30_000));
});
`,
  'failing/later.test.mjs': `import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

it('runs in a fresh guest, whatever another file did to its own', () => {
  expect(readFileSync('/proc/sys/kernel/sysrq', 'utf8').trim()).not.toBe('1');
});
`,
  'failing/screen.test.mjs': screenSpec('a green box where a red one is', 'green-box.png', ', timeout: 2000'),
};

function box(rgb: [number, number, number]): Buffer {
  const data = new Uint8Array(64 * 48 * 4);
  for (let i = 0; i < data.length; i += 4) data.set([...rgb, 255], i);
  return encodePng({ width: 64, height: 48, data });
}

describe.skipIf(why !== '')(`devmap/vitest in a user's project installed from packages${why && ` (skipped: ${why})`}`, () => {
  let proj: string;
  let snapshots: string;

  function vitest(args: string[], env: Record<string, string> = {}): { status: number | null; out: string; report: { numPassedTests: number; numFailedTests: number; testResults: { name: string; status: string }[] } } {
    const report = join(proj, 'report.json');
    const r = spawnSync(process.execPath, [join(proj, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...args, '--reporter', 'default', '--reporter', 'json', '--outputFile.json', report], {
      cwd: proj, encoding: 'utf8', timeout: RUN_MS, env: { ...process.env, DEVMAP_SNAPSHOTS: snapshots, CI: 'true', ...env },
    });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(existsSync(report), out).toBe(true);
    return { status: r.status, out, report: JSON.parse(readFileSync(report, 'utf8')) };
  }

  beforeAll(() => {
    // A stable place: the guest images of an installed package are keyed by its path.
    proj = scratchProject(packedTarball(), { dir: join(cacheDir(), 'scratch', 'vitest-project') });
    const r = spawnSync('npm', ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', '-D', `vitest@${vitestVersion}`], { cwd: proj, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    mkdirSync(join(proj, 'driver'), { recursive: true });
    for (const f of ['Kbuild', 'mmapdemo.c']) cpSync(join(root, 'examples', 'mmap-driver', f), join(proj, 'driver', f));
    writeFileSync(join(proj, 'vitest.config.mjs'), CONFIG);
    for (const [f, text] of Object.entries(SPECS)) {
      mkdirSync(join(proj, f, '..'), { recursive: true });
      writeFileSync(join(proj, f), text);
    }
    mkdirSync(join(proj, 'test', 'expected'), { recursive: true });
    writeFileSync(join(proj, 'test', 'expected', 'red-box.png'), box([255, 0, 0]));
    writeFileSync(join(proj, 'test', 'expected', 'green-box.png'), box([0, 255, 0]));
    snapshots = tempDir();
  }, RUN_MS);

  it('the first run boots once, saves the snapshot, and runs every file in a fresh guest', () => {
    const r = vitest([]);
    expect(r.status, r.out).toBe(0);
    expect(r.report.numFailedTests, r.out).toBe(0);
    expect(r.report.numPassedTests, r.out).toBe(5);
    expect(r.out.match(/saved a snapshot of this guest/g), r.out).toHaveLength(1);
    // Five files: the first in the guest that took the snapshot, four restored.
    expect(r.out.match(/restored a snapshot/g), r.out).toHaveLength(4);
  }, RUN_MS);

  it('the second run, as two shards, restores the cached snapshot for every file and boots none', () => {
    const shards = [1, 2].map((i) => vitest(['--shard', `${i}/2`]));
    for (const s of shards) {
      expect(s.status, s.out).toBe(0);
      expect(s.out, s.out).not.toMatch(/saved a snapshot|booting instead/);
    }
    const files = shards.flatMap((s) => s.report.testResults.map((t) => t.name.slice(proj.length + 1))).sort();
    expect(files).toEqual(Object.keys(SPECS).filter((f) => f.startsWith('test/')).sort());
    expect(shards.map((s) => s.out.match(/restored a snapshot/g)?.length ?? 0).reduce((a, b) => a + b)).toBe(5);
  }, RUN_MS);

  it('a screen that differs fails with the expected, actual and diff PNGs on the host; a file that panics the guest fails with its console, and the next file runs', () => {
    const r = vitest([], { SPECS: 'failing/**/*.test.mjs' });
    expect(r.status).not.toBe(0);
    const by = (f: string) => r.report.testResults.find((t) => t.name.endsWith(f));
    expect(r.out).toMatch(/differs from the expected picture in 3072 of 3072 pixels of 64x48 at \[40, 30\]/);
    const paths = [...r.out.matchAll(/(expected|actual|diff): +(\S+?\.png)/g)].map((m) => m[2]!);
    expect(paths.slice(0, 3).map((p) => p.replace(/-\d+-(expected|actual|diff)\.png$/, '-N-$1.png'))).toEqual(
      ['expected', 'actual', 'diff'].map((k) => join(proj, 'artifacts', 'screens', `a-green-box-where-a-red-one-is-N-${k}.png`)),
    );
    for (const p of paths.slice(0, 3)) expect(readFileSync(p).subarray(1, 4).toString()).toBe('PNG');
    expect(by('failing/screen.test.mjs')?.status, r.out).toBe('failed');
    // vitest counts a dead worker as an error of the run, naming the file (and the test, when it heard of it).
    expect(r.out).toMatch(/failing\/crash\.test\.mjs( > panics the guest kernel)?: the guest kernel panicked: [^\n]*Kernel panic[^\n]*sysrq[\s\S]*last console lines:\n.+/);
    expect(by('failing/later.test.mjs')?.status, r.out).toBe('passed');
  }, RUN_MS);
});
