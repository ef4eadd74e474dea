// The documentation against the code: examples that run as written, every
// export in the API reference, every ivshmem command in its guide.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = process.cwd();
const read = (p: string) => readFileSync(join(root, p), 'utf8');
const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('docs', () => {
  it('```js examples parse on Node 20: no `using` declarations (TypeScript examples are ```ts)', () => {
    const bad = pages.flatMap((p) =>
      [...read(p).matchAll(/```js\n([\s\S]*?)```/g)].filter((m) => /^\s*(await\s+)?using\s+\w+\s*=/m.test(m[1]!)).map(() => p)
    );
    expect(bad).toEqual([]);
  });

  it('docs/api.md names every export of lib/index.ts', () => {
    // The compiler's view, so that `export *` from the device folders counts.
    const entry = join(root, 'lib', 'index.ts');
    const program = ts.createProgram([entry], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true });
    const checker = program.getTypeChecker();
    const names = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(entry)!)!).map((s) => s.getName());
    expect(names).toContain('WaitOptions');
    const api = read('docs/api.md');
    expect(names.filter((n) => !new RegExp(`\`[^\`]*\\b${n}\\b`).test(api))).toEqual([]);
  });

  it('docs/ivshmem.md shows every `devmap ivshmem` command and `devmap ivshmem-server`', () => {
    const help = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), 'ivshmem', '--help'], { encoding: 'utf8' }).stdout;
    const commands = [...new Set([...help.matchAll(/^ {2}devmap ivshmem (\S+)/gm)].map((m) => m[1]!))];
    expect(commands).toEqual(expect.arrayContaining(['list', 'ring', 'wait', 'send', 'recv']));
    const guide = read('docs/ivshmem.md');
    expect([...commands.map((c) => `devmap ivshmem ${c}`), 'devmap ivshmem-server'].filter((c) => !guide.includes(c))).toEqual([]);
  });
});
