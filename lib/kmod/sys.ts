// The one system interface of lib/kmod: the programs it runs (make, depmod,
// modprobe, insmod, rmmod, xz), whether they exist, who we are, and what
// the running kernel has loaded. Tests pass their own to reach the error
// paths (no make, not root, a module in use) without breaking a machine.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { delimiter, join } from 'node:path';

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface KmodSys {
  /** Runs a program found by `which` to completion; never throws for its exit status. */
  run(cmd: string, args: string[], opts?: { cwd?: string; input?: Buffer }): RunResult & { out?: Buffer };
  /** The program's path on PATH (or in /usr/sbin, /sbin, where kmod's tools live), if there is one. */
  which(cmd: string): string | undefined;
  isRoot(): boolean;
  /** uname -r of the running kernel. */
  kernelRelease(): string;
  /** /sys/module/NAME/FILE of a loaded module (e.g. 'srcversion'), or undefined. */
  sysModule(name: string, file: string): Buffer | undefined;
  /** Is a module called `name` loaded (or built in)? */
  loaded(name: string): boolean;
}

const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

function which(cmd: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN];
  for (const d of dirs) {
    const p = join(d, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export const defaultSys: KmodSys = {
  run(cmd, args, opts = {}) {
    const r = spawnSync(which(cmd) ?? cmd, args, { cwd: opts.cwd, input: opts.input, maxBuffer: 256 << 20 });
    if (r.error) return { status: null, stdout: '', stderr: r.error.message };
    return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString(), out: r.stdout };
  },
  which,
  isRoot: () => process.getuid?.() === 0,
  kernelRelease: () => release(),
  sysModule(name, file) {
    const p = join('/sys/module', name, file);
    try {
      return readFileSync(p);
    } catch {
      return undefined;
    }
  },
  loaded: (name) => existsSync(join('/sys/module', name)),
};
