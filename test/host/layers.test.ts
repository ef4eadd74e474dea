// Where code lives, checked against the imports themselves: the runtime
// library (core + one folder per device) never reaches the harness or the
// CLI; the harness is layered one way (machines <- image <- qemu <- session)
// and never loads the addon; lib/kmod/, which `devmap kmod` and the harness
// share, stands on the core alone; no import circle between files or folders.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

import { tempDir } from '../helpers/tmp.js';

const root = process.cwd();
const HARNESS_LAYERS = ['machines', 'image', 'qemu', 'session'];

function tsFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(posix.join(dir, e.name)) : e.name.endsWith('.ts') ? [posix.join(dir, e.name)] : []
  );
}

/** file -> the lib/ files it imports at run time (`import type` erases). */
function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of tsFiles('lib')) {
    const text = readFileSync(join(root, f), 'utf8');
    const specs = [...text.matchAll(/^(?:import|export)\s+(?!type\b)[^'";]*?from\s+'(\.[^']+)'|^import\s+'(\.[^']+)'/gm)].map((m) => m[1] ?? m[2]!);
    g.set(f, specs.map((s) => posix.normalize(posix.join(posix.dirname(f), s)).replace(/\.js$/, '.ts')));
  }
  return g;
}

/** 'core', 'app', a device folder ('ivshmem'...), or 'harness/<layer>'. */
function roomOf(file: string): string {
  const parts = file.split('/').slice(1);
  if (parts.length === 1) return ['cli.ts', 'parser.ts', 'index.ts'].includes(parts[0]!) ? 'app' : 'core';
  // devmap/vitest drives the harness (its pool boots guests), like the CLI.
  if (parts[0] === 'commands' || parts[0] === 'demo' || parts[0] === 'vitest') return 'app';
  if (parts[0] === 'harness') return `harness/${parts[1]}`;
  return parts[0]!;
}

const isRuntime = (room: string): boolean => room !== 'app' && !room.startsWith('harness/');

function closure(g: Map<string, string[]>, from: string): Set<string> {
  const seen = new Set<string>();
  const walk = (f: string): void => {
    if (seen.has(f)) return;
    seen.add(f);
    for (const t of g.get(f) ?? []) walk(t);
  };
  walk(from);
  return seen;
}

/** Strongly connected components of size > 1 (Tarjan). */
function circles(edges: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do scc.push((w = stack.pop()!));
      while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of edges.keys()) if (!idx.has(v)) visit(v);
  return out;
}

describe('layers of lib/', () => {
  const g = graph();
  const edges = [...g].flatMap(([from, tos]) => tos.map((to) => ({ from, to, a: roomOf(from), b: roomOf(to) })));

  it('the runtime library imports nothing of the harness or the CLI', () => {
    expect(edges.filter((e) => isRuntime(e.a) && !isRuntime(e.b)).map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  it('the harness depends one way: machines <- image <- qemu <- session, and not on the CLI', () => {
    const rank = (room: string): number => HARNESS_LAYERS.indexOf(room.slice('harness/'.length));
    const up = edges.filter((e) => e.a.startsWith('harness/') && (e.b === 'app' || (e.b.startsWith('harness/') && rank(e.b) > rank(e.a))));
    expect(up.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
    expect(new Set(edges.filter((e) => e.a.startsWith('harness/')).map((e) => e.a))).toEqual(new Set(HARNESS_LAYERS.map((l) => `harness/${l}`)));
  });

  it('no harness module loads the addon, directly or through what it imports', () => {
    const harness = [...g.keys()].filter((f) => roomOf(f).startsWith('harness/'));
    expect(harness.filter((f) => closure(g, f).has('lib/native.ts'))).toEqual([]);
  });

  it('lib/kmod/ (the companion modules, shared by the CLI and the harness) imports only the core and never loads the addon', () => {
    const kmod = [...g.keys()].filter((f) => roomOf(f) === 'kmod');
    expect(kmod.length).toBeGreaterThan(0);
    expect(edges.filter((e) => e.a === 'kmod' && e.b !== 'kmod' && e.b !== 'core').map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
    expect(kmod.filter((f) => closure(g, f).has('lib/native.ts'))).toEqual([]);
  });

  it('nothing in lib/ imports lib/index.ts, and no import circle joins files or folders', () => {
    expect(edges.filter((e) => e.to === 'lib/index.ts').map((e) => e.from)).toEqual([]);
    const fileEdges = new Map([...g].map(([f, tos]) => [f, new Set(tos)]));
    expect(circles(fileEdges)).toEqual([]);
    const folderEdges = new Map<string, Set<string>>();
    for (const e of edges) {
      const [a, b] = [posix.dirname(e.from), posix.dirname(e.to)];
      if (a !== b && !b.startsWith(`${a}/`) && !a.startsWith(`${b}/`)) folderEdges.set(a, (folderEdges.get(a) ?? new Set()).add(b));
    }
    expect(circles(folderEdges)).toEqual([]);
  });
});

describe.runIf(existsSync(join(root, 'dist', 'harness')))('the harness without the addon (needs dist/: tsc)', () => {
  it('imports every compiled harness module from a package copy that has no build/ and no prebuilds', () => {
    const pkg = tempDir();
    cpSync(join(root, 'dist'), join(pkg, 'dist'), { recursive: true });
    writeFileSync(join(pkg, 'package.json'), readFileSync(join(root, 'package.json')));
    symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));
    const mods = tsFiles('lib/harness').map((f) => join(pkg, 'dist', relative('lib', f)).replace(/\.ts$/, '.js'));
    const script = `for (const m of ${JSON.stringify(mods)}) await import(m);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, DEVMAP_ADDON: '' }, cwd: dirname(pkg) });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // The same copy without the addon cannot load the runtime: the check above is not vacuous.
    const lib = spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(join(pkg, 'dist', 'mapping.js'))})`], { encoding: 'utf8', env: { ...process.env, DEVMAP_ADDON: '' } });
    expect(lib.status).not.toBe(0);
    expect(lib.stderr).toMatch(/native addon is not built/);
  });
});
