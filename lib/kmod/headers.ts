// What a kernel's build tree (Debian's linux-headers-RELEASE) says about
// building modules for it: the release they must carry, the compiler and
// tools its kbuild calls, its architecture, how it installs modules.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { devmapError } from '../errors.js';

export interface KernelHeaders {
  /** The build tree (make -C). */
  dir: string;
  /** The release modules built here carry in their vermagic (uname -r of that kernel). */
  release: string;
  /** gcc major the kernel was built with (CONFIG_GCC_VERSION), if gcc. */
  gcc?: number;
  /** The compiler command kbuild calls (CONFIG_CC_VERSION_TEXT's first word: gcc-12, x86_64-linux-gnu-gcc-14). */
  compiler: string;
  /** lib/harness/machines ARCHES key of the kernel (x86_64, armhf, arm64), if one of those. */
  arch?: string;
  /** What modules_install appends to every module it installs ('' | '.xz' | '.zst' | '.gz'). */
  compress: string;
  /** kbuild runs pahole on every module (BTF). */
  btf: boolean;
}

const config = (text: string, name: string): string | undefined =>
  new RegExp(`^${name}=(.*)$`, 'm').exec(text)?.[1]?.replace(/^"(.*)"$/, '$1');

/** The gcc major a kernel was built with, from its headers' .config (CONFIG_GCC_VERSION=140200 -> 14). */
export function kernelGcc(dir: string): number {
  const v = config(readFileSync(join(dir, '.config'), 'utf8'), 'CONFIG_GCC_VERSION');
  if (!v || !/^\d+$/.test(v)) throw devmapError('ERR_DEVMAP_KERNEL', `${dir}/.config names no CONFIG_GCC_VERSION`);
  return Math.floor(Number(v) / 10000);
}

/**
 * The release modules built against `dir` get in their vermagic:
 * include/generated/utsrelease.h, as kbuild itself takes it. Debian 12's
 * include/config/kernel.release says the upstream version (6.1.192) where
 * the kernel is 6.1.0-57-amd64, so that file is only the fallback.
 */
export function headersRelease(dir: string): string | undefined {
  const uts = join(dir, 'include', 'generated', 'utsrelease.h');
  if (existsSync(uts)) {
    const m = /^#define UTS_RELEASE "([^"]+)"/m.exec(readFileSync(uts, 'utf8'));
    if (m) return m[1];
  }
  const rel = join(dir, 'include', 'config', 'kernel.release');
  return existsSync(rel) ? readFileSync(rel, 'utf8').trim() || undefined : undefined;
}

function archOf(cfg: string): string | undefined {
  if (config(cfg, 'CONFIG_X86_64') === 'y') return 'x86_64';
  if (config(cfg, 'CONFIG_ARM64') === 'y') return 'arm64';
  if (config(cfg, 'CONFIG_ARM') === 'y') return 'armhf';
  return undefined;
}

function compression(cfg: string): string {
  if (config(cfg, 'CONFIG_MODULE_COMPRESS_ALL') !== 'y') return '';
  if (config(cfg, 'CONFIG_MODULE_COMPRESS_XZ') === 'y') return '.xz';
  if (config(cfg, 'CONFIG_MODULE_COMPRESS_ZSTD') === 'y') return '.zst';
  if (config(cfg, 'CONFIG_MODULE_COMPRESS_GZIP') === 'y') return '.gz';
  return '';
}

/** Is `dir` a kernel build tree that out-of-tree modules can be built against? */
export const isBuildTree = (dir: string): boolean => existsSync(join(dir, 'Makefile')) && existsSync(join(dir, '.config'));

/** Reads a build tree; throws ERR_DEVMAP_KMOD_HEADERS when `dir` is not one. */
export function readHeaders(dir: string): KernelHeaders {
  if (!isBuildTree(dir)) throw devmapError('ERR_DEVMAP_KMOD_HEADERS', `${dir} is not a kernel build tree (it needs a Makefile and a .config)`);
  const cfg = readFileSync(join(dir, '.config'), 'utf8');
  const release = headersRelease(dir);
  if (!release) throw devmapError('ERR_DEVMAP_KMOD_HEADERS', `${dir} names no kernel release (no include/generated/utsrelease.h or include/config/kernel.release): are the headers complete?`);
  const gccVersion = config(cfg, 'CONFIG_GCC_VERSION');
  const arch = archOf(cfg);
  return {
    dir,
    release,
    ...(gccVersion && Number(gccVersion) > 0 ? { gcc: kernelGcc(dir) } : {}),
    compiler: config(cfg, 'CONFIG_CC_VERSION_TEXT')?.split(' ')[0] || 'gcc',
    ...(arch ? { arch } : {}),
    compress: compression(cfg),
    btf: config(cfg, 'CONFIG_DEBUG_INFO_BTF_MODULES') === 'y',
  };
}
