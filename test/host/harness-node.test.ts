// The host's node in the guest (lib/harness/image/rootfs.ts): a Debian-built
// Node loads part of its own JavaScript from /usr/share/nodejs, by paths
// compiled into libnode; the guest image must bring those files, or node
// dies at start there ("Cannot load externalized builtin", seen on a Debian
// 13 host).
import { expect, it } from 'vitest';

import { externalizedBuiltins } from '../../lib/harness/image/files.js';

it("finds the externalized builtins' files in the binary as Debian's libnode names them", () => {
  const binary = Buffer.concat([
    Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]),
    Buffer.from('internal/deps/cjs-module-lexer/lexer:/usr/share/nodejs/cjs-module-lexer/lexer.js\0'),
    Buffer.from('internal/deps/acorn/acorn/dist/acorn:/usr/share/nodejs/acorn/dist/acorn.js\0\xff'),
    Buffer.from('internal/deps/minimatch/index:/usr/share/nodejs/minimatch/dist/cjs/index.bundle.js\0'),
    // Mentions that are not a file: the folder itself, a folder without a .js.
    Buffer.from('/usr/share/nodejs/\0/usr/share/nodejs/undici\0'),
    Buffer.from('internal/deps/undici/undici:/usr/share/nodejs/undici/undici-fetch.js'),
  ]);
  expect(externalizedBuiltins(binary)).toEqual([
    '/usr/share/nodejs/acorn/dist/acorn.js',
    '/usr/share/nodejs/cjs-module-lexer/lexer.js',
    '/usr/share/nodejs/minimatch/dist/cjs/index.bundle.js',
    '/usr/share/nodejs/undici/undici-fetch.js',
  ]);
});

it('finds none in a Node build that carries its JavaScript itself', () => {
  expect(externalizedBuiltins(Buffer.from('\0internal/deps/acorn/acorn/dist/acorn\0lib/internal/main.js\0'))).toEqual([]);
});
