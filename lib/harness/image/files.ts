// FileSet: the files of a guest root, keyed by guest path, with parent
// folders added automatically, plus bringing in a host program with the
// shared libraries it needs (ldd) at the same paths.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, openSync, readdirSync, readSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';

import { devmapError } from '../../errors.js';
import type { CpioEntry } from './cpio.js';

export class FileSet {
  readonly entries = new Map<string, CpioEntry>();
  /** Top-level folder links of a merged-/usr host (/lib -> usr/lib), mirrored in the guest. */
  readonly #dirLinks = new Map<string, string>();

  constructor() {
    for (const top of ['/lib', '/lib64']) {
      if (!lstatSync(top, { throwIfNoEntry: false })?.isSymbolicLink()) continue;
      const target = readlinkSync(top);
      this.#dirLinks.set(top + '/', posix.resolve('/', target) + '/');
      this.add({ type: 'symlink', path: top, target });
    }
  }

  add(e: CpioEntry): void {
    let path = posix.normalize('/' + e.path);
    for (const [from, to] of this.#dirLinks) if (path.startsWith(from)) path = to + path.slice(from.length);
    for (let d = posix.dirname(path); d !== '/' && !this.entries.has(d); d = posix.dirname(d)) {
      this.add({ type: 'dir', path: d });
    }
    this.entries.set(path, { ...e, path });
  }

  /** A host file at the same (or another) guest path, following symlinks. */
  file(from: string, to = from, mode?: number): void {
    const st = statSync(from);
    this.add({ type: 'file', path: to, from, mode: mode ?? (st.mode & 0o777) });
  }

  /** A host folder tree, symlinks kept as links, `skip` pruning by host path. */
  tree(from: string, to: string, skip: (path: string, name: string) => boolean = () => false): void {
    this.add({ type: 'dir', path: to });
    for (const d of readdirSync(from, { withFileTypes: true })) {
      const src = join(from, d.name);
      if (skip(src, d.name)) continue;
      if (d.isSymbolicLink()) {
        this.add({ type: 'symlink', path: posix.join(to, d.name), target: readlinkSync(src) });
      } else if (d.isDirectory()) this.tree(src, posix.join(to, d.name), skip);
      else if (d.isFile()) this.file(src, posix.join(to, d.name), lstatSync(src).mode & 0o777);
    }
  }

  /**
   * A host file or program at the same path in the guest. An ELF brings the
   * libraries ldd names, at their real paths; /lib, /lib64 symlinks of a
   * merged-/usr host are mirrored so both spellings resolve.
   */
  hostProgram(path: string): void {
    if (!existsSync(path)) throw devmapError('ERR_DEVMAP_WITH', `--with ${path}: no such file on the host`);
    if (statSync(path).isDirectory()) return this.tree(path, path);
    const real = join(realpathSync(dirname(path)), basename(path));
    this.file(path, real);
    if (real !== path) this.add({ type: 'symlink', path, target: real });
    if (isElf(path)) for (const lib of lddLibraries(path)) this.hostLibrary(lib);
  }

  hostLibrary(lib: string): void {
    const real = join(realpathSync(dirname(lib)), basename(lib));
    if (!this.entries.has(real)) this.file(lib, real);
  }

  sorted(): CpioEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}

/** The shared libraries (and the ELF interpreter) a program or .node file loads. */
export function lddLibraries(file: string): string[] {
  const r = spawnSync('ldd', [file], { encoding: 'utf8' });
  if (r.status !== 0) return []; // static binaries: "not a dynamic executable"
  const libs = new Set<string>();
  for (const line of r.stdout.split('\n')) {
    if (/not found/.test(line)) throw devmapError('ERR_DEVMAP_WITH', `${file}: ldd cannot find a library it needs: ${line.trim()}`);
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.add(m[1]!);
  }
  return [...libs];
}

const DEBIAN_NODE_JS = Buffer.from('/usr/share/nodejs/');

/**
 * The JavaScript files a Debian-built Node loads from /usr/share/nodejs
 * instead of carrying them (its "externalized builtins": acorn,
 * cjs-module-lexer, undici, minimatch), as named in the node binary or
 * libnode (`internal/deps/...:/usr/share/nodejs/.../x.js`). A guest that
 * gets the host's node without them dies at start: "Cannot load
 * externalized builtin". Other builds of Node name none.
 */
export function externalizedBuiltins(binary: Buffer): string[] {
  const found = new Set<string>();
  for (let at = binary.indexOf(DEBIAN_NODE_JS); at >= 0; at = binary.indexOf(DEBIAN_NODE_JS, at + 1)) {
    let end = at + DEBIAN_NODE_JS.length;
    while (end < binary.length && /[\w@./+-]/.test(String.fromCharCode(binary[end]!))) end++;
    const path = binary.toString('latin1', at, end);
    if (path.endsWith('.js')) found.add(path);
  }
  return [...found].sort();
}

/** True when `file` starts with the ELF magic (used for --with and ldd). */
export function isElf(file: string): boolean {
  if (!existsSync(file)) return false;
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.readUInt32BE(0) === 0x7f454c46;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}
