// `devmap guest run|shell|image|lock`: boot a QEMU guest with the devices
// and the project inside, run a command there, bring its output and exit
// status back; show or move the guest kernel's pin.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';

import { pinStatus, updateLock, type PinStatus, type Target } from '../harness/image/debian.js';
import { stderrLog } from '../harness/image/cache.js';
import { prepareImage } from '../harness/image/image.js';
import { parseKparams } from '../harness/image/overlay.js';
import { lockPath } from '../harness/image/lock.js';
import { ARCHES, DEFAULT_MACHINE, findMachine, MACHINES, machineNames } from '../harness/machines/machines.js';
import { DEFAULT_SUITE, findSuite, SUITES, suiteNames } from '../harness/machines/suites.js';
import { runGuest } from '../harness/qemu/runner.js';
import { snapshotMachines } from '../harness/qemu/snapshot.js';
import { devmapError, rangeError, typeError } from '../errors.js';
import { parseSize } from './format.js';
import { MAX_VECTORS } from '../ivshmem/server.js';

interface Common {
  machine: string;
  kernel?: string;
  ivshmem?: string;
  with?: string[];
  kmod?: string[];
  kparam?: string[];
  ivshmemServer?: string;
  timeout: number;
}

function common<T>(y: Argv<T>): Argv<T & Common> {
  return y
    .option('machine', { alias: 'm', type: 'string', default: DEFAULT_MACHINE, choices: machineNames(), describe: 'machine definition (lib/harness/machines/machines.ts)' })
    .option('kernel', { alias: 'k', type: 'string', choices: suiteNames(), describe: `Debian suite of the guest kernel (default $DEVMAP_KERNEL, else ${DEFAULT_SUITE}): ${suiteNames().map((n) => `${n} = ${SUITES[n].title}, ${SUITES[n].kernel}`).join('; ')}` })
    .option('ivshmem', { type: 'string', describe: 'back the ivshmem BAR with HOSTFILE[:SIZE] (created at SIZE if missing, kept afterwards); default: a fresh /dev/shm file, removed' })
    .option('with', { type: 'string', array: true, describe: 'host file, program (with its libraries) or folder to bring in at the same path; repeatable' })
    .option('ivshmem-server', { type: 'string', describe: 'connect an ivshmem-doorbell device (PCI 00:07.0) to the devmap ivshmem-server at SOCKET[:VECTORS] (VECTORS = its -n, default 1): guest<->guest messaging' })
    .option('kmod', { type: 'string', array: true, describe: 'folder of your own kernel module (Kbuild or Makefile): built against the guest kernel, loaded before CMD (a failed build or insmod fails the run); repeatable' })
    .option('kparam', { type: 'string', array: true, describe: 'insmod argument MODULE.PARAM=VALUE for any module the guest loads; repeatable' })
    .option('timeout', { type: 'number', default: 300, describe: 'hard limit in seconds for the whole boot' }) as unknown as Argv<T & Common>;
}

/**
 * The run options common to run and shell. --with paths are the host's
 * (relative ones from here), and the command starts in the host's current
 * folder, so `--with test -- node --test test/` works as it does here.
 */
function guestOptions(argv: Common) {
  return {
    ...doorbell(argv),
    machine: argv.machine, kernel: argv.kernel, with: (argv.with ?? []).map((p) => resolve(p)), timeoutMs: argv.timeout * 1000,
    ivshmem: ivshmemSpec(argv.ivshmem), kmodDirs: argv.kmod, kparams: parseKparams(argv.kparam), cwd: process.cwd(),
  };
}

/** --ivshmem-server SOCKET[:VECTORS] */
function doorbell(argv: Common): { ivshmemServer?: string; doorbellVectors?: number } {
  if (argv.ivshmemServer === undefined) return {};
  const m = /^(.+?)(?::(\d+))?$/.exec(argv.ivshmemServer);
  const vectors = Number(m?.[2] ?? 1);
  if (!m || vectors < 1 || vectors > MAX_VECTORS) throw rangeError(`--ivshmem-server ${argv.ivshmemServer}: want SOCKET[:VECTORS] with VECTORS in [1, ${MAX_VECTORS}] (the server's -n)`);
  const machine = findMachine(argv.machine);
  if (machine.pci === false) throw devmapError('ERR_DEVMAP_MACHINE', `--ivshmem-server: ${machine.name} has no PCI bus for an ivshmem-doorbell device; use a PCI machine such as x86_64 or armhf-virt`);
  if (machine.ivshmemServer) throw devmapError('ERR_DEVMAP_MACHINE', `--ivshmem-server: ${machine.name} starts its own ivshmem server (npm test runs it); use a single-guest machine such as x86_64`);
  if (!existsSync(m[1]!)) throw devmapError('ERR_DEVMAP_NO_SERVER', `--ivshmem-server: no socket at ${m[1]}; start one first: devmap ivshmem-server -s ${m[1]} -n ${vectors}`);
  return { ivshmemServer: resolve(m[1]!), doorbellVectors: vectors };
}

function ivshmemSpec(spec: string | undefined): { path: string; size?: number } | undefined {
  if (spec === undefined) return undefined;
  const m = /^(.*?)(?::(\w+))?$/.exec(spec)!;
  return { path: m[1]!, ...(m[2] ? { size: Number(parseSize(m[2], `--ivshmem ${spec}: size`)) } : {}) };
}

const run: CommandModule<object, Common & { screendump?: string; snapshot: boolean; cmd?: string[]; _: (string | number)[] }> = {
  command: 'run [cmd..]',
  describe: 'Boot a guest, run CMD in it (devmap is on its PATH, import("devmap") works), stream its output, exit with its status',
  builder: (y) =>
    common(y)
      .positional('cmd', { type: 'string', array: true, describe: 'the command and its arguments, after --' })
      .option('screendump', { type: 'string', describe: 'save the guest screen as PNG (QMP) right after CMD finishes' })
      .option('snapshot', { type: 'boolean', default: false, describe: `restore a saved guest instead of booting: the first run of a configuration boots and saves the guest when it is ready for CMD (cached under $DEVMAP_CACHE/snapshots), later runs of it restore the guest instead of booting (docs/guests.md, Snapshots); machines: ${snapshotMachines().join(', ')}` })
      .example('devmap guest run -- node -e "console.log(6*7)"', 'prints 42')
      .example('devmap guest run -- devmap ivshmem list', 'the ivshmem device as the guest sees it')
      .example('devmap guest run --ivshmem /dev/shm/demo:4M -- sh -c "devmap ivshmem write 0 hello"', 'the host then reads "hello" at offset 0 of /dev/shm/demo')
      .example('devmap guest run --with /usr/sbin/fbset -- fbset -i', 'bring a host program (and its libraries) along')
      .example('devmap guest run --screendump screen.png -- devmap fb pattern', 'draw the test card, save what the guest shows')
      .example('devmap guest run --kmod ./mydrv --with test -- node --test test/', 'build and load your module, run your tests in the guest (docs/testing-drivers.md)')
      .example('devmap guest run --snapshot -- node -e "console.log(6*7)"', 'the first run boots and saves the guest; the next ones restore it (docs/guests.md, Snapshots)')
      .example('devmap guest run --ivshmem-server /tmp/ivs.sock:2 -- devmap ivshmem list', 'a doorbell device on a running devmap ivshmem-server -s /tmp/ivs.sock -n 2 (docs/ivshmem-guide.md)')
      .epilogue('The guest console streams to stdout; progress lines go to stderr. CMD starts in the same folder as here (empty in the guest unless --with brings files into it). A kernel panic or a hang fails with the reason and the last console lines (exit 125; 124 on --timeout); a --kmod module that does not build fails before the boot, one that does not load fails the run with exit 125.'),
  handler: async (argv) => {
    // yargs leaves everything after `--` in argv._, behind the command words.
    const command = [...(argv.cmd ?? []), ...argv._.slice(2)].map(String);
    if (command.length === 0) throw typeError('name a command to run after --, e.g. devmap guest run -- uname -a');
    const r = await runGuest({
      ...guestOptions(argv), command, screendump: argv.screendump, snapshot: argv.snapshot,
      // Colours only if our own stdout is a terminal.
      env: process.stdout.isTTY ? { FORCE_COLOR: '1' } : { NO_COLOR: '1' },
      onOutput: (t) => process.stdout.write(t),
    });
    if (r.outcome === 'exited') {
      process.exitCode = r.status ?? 1;
      return;
    }
    process.stderr.write(`devmap: guest run failed (${r.machine}, ${r.accel}): ${r.reason}\n--- last console lines ---\n${r.console.lastLines()}\n`);
    process.exitCode = r.outcome === 'timeout' ? 124 : 125;
  },
};

const shell: CommandModule<object, Common> = {
  command: 'shell',
  describe: 'Boot a guest with an interactive shell on its serial console (exit powers it off; Ctrl-A X quits QEMU)',
  builder: (y) => common(y).example('devmap guest shell --with /usr/bin/strace', 'a shell with strace available'),
  handler: async (argv) => {
    const r = await runGuest({ ...guestOptions(argv), mode: 'shell', command: [] });
    if (r.outcome !== 'exited' && r.outcome !== 'no-status') process.stderr.write(`devmap: ${r.reason}\n`);
    process.exitCode = r.status ?? 0;
  },
};

const image: CommandModule<object, { machine: string; kernel?: string }> = {
  command: 'image',
  describe: 'Fetch and build everything a guest needs (kernel, modules, initramfs) and print where it is',
  builder: (y) => y.option('machine', { alias: 'm', type: 'string', default: DEFAULT_MACHINE, choices: machineNames() })
      .option('kernel', { alias: 'k', type: 'string', choices: suiteNames(), describe: `Debian suite of the guest kernel (default $DEVMAP_KERNEL, else ${DEFAULT_SUITE}): ${suiteNames().map((n) => `${n} = ${SUITES[n].title}, ${SUITES[n].kernel}`).join('; ')}` }),
  handler: (argv) => {
    const m = findMachine(argv.machine);
    const img = prepareImage(m.arch, stderrLog, argv.kernel);
    console.log(`kernel ${img.kernel.abi}: ${img.kernel.vmlinux}\ninitramfs: ${img.initrd}`);
    for (const b of img.modules) console.log(`module ${b.dir}: ${b.error ? 'FAILED to build' : b.kos.join(' ')}`);
  },
};

/** One line of `devmap guest lock`: the pin and whether runs here can still use it. */
export function describePin(s: PinStatus): string {
  const head = `${s.target.padEnd(16)} `;
  const unknown = "the suite's package lists have no kernel for this arch";
  if (!s.pin) return head + (s.current ? `not pinned; runs use the archive's current kernel, ${s.current}` : `not pinned; ${unknown}`);
  const count = Object.keys(s.pin.packages).length + Object.keys(s.pin.userland ?? {}).length;
  const pin = `${s.pin.abi} (${count} packages)`;
  if (!s.current) return `${head}${pin}: cannot check the archive: ${unknown}${s.kept ? '; all cached here, so runs use them' : ''}`;
  if (!s.gone.length) return `${head}${pin}: in the archive${s.current === s.pin.abi ? ', the current kernel' : `; the current kernel is ${s.current} (--update pins it)`}`;
  const gone = `${head}${pin}: GONE from the archive (${s.gone.join(' ')})`;
  return gone + (s.kept ? '; cached here, so runs here keep using it' : `; runs here use the current kernel ${s.current} until --update pins it`);
}

/** The suite x arch pairs `--kernel` and `--arch` select (default: all). */
function lockTargets(kernel: string | undefined, arch: string | undefined): Target[] {
  const suites = kernel ? [findSuite(kernel)] : suiteNames().map((n) => SUITES[n]);
  const arches = arch ? [ARCHES[arch]!] : Object.values(ARCHES);
  return suites.flatMap((suite) => arches.map((a) => ({ suite, arch: a })));
}

const lock: CommandModule<object, { update: boolean; arch?: string; kernel?: string }> = {
  command: 'lock',
  describe: 'Show the Debian kernel each suite and guest arch is pinned to (qemu/guest.lock.json) and whether the archive still has it; --update pins the current ones',
  builder: (y) =>
    y
      .option('update', { type: 'boolean', default: false, describe: "pin the archive's current kernel (and packages) and rewrite the lock file" })
      .option('kernel', { alias: 'k', type: 'string', choices: suiteNames(), describe: 'only this Debian suite (default: all)' })
      .option('arch', { type: 'string', choices: Object.keys(ARCHES), describe: 'only this guest architecture (default: all)' })
      .example('devmap guest lock', 'what is pinned, and whether the archive still has it')
      .example('devmap guest lock --update --kernel trixie --arch x86_64', "pin trixie's current x86_64 kernel; commit qemu/guest.lock.json")
      .epilogue("Runs never write the lock file, the way npm ci never writes package-lock.json: when a pinned kernel has left the archive and its .debs are not cached, a run uses the current kernel and says so. \"The archive\" is each suite's package lists, read through a private apt configuration under the cache (the host's /etc/apt is never changed); --update fetches them first."),
  handler: (argv) => {
    const targets = lockTargets(argv.kernel, argv.arch);
    if (!argv.update) {
      for (const t of targets) console.log(describePin(pinStatus(t, undefined, stderrLog)));
      return;
    }
    const changes = updateLock(targets, stderrLog);
    for (const c of changes) {
      const was = !c.changed ? 'unchanged' : c.from === c.to ? 'new package versions' : `was ${c.from ?? 'not pinned'}`;
      console.log(`${c.target.padEnd(16)} ${c.to} (${was})`);
    }
    console.log(changes.some((c) => c.changed) ? `wrote ${lockPath()}; commit it` : `${lockPath()} unchanged`);
  },
};

export const guestCommand: CommandModule = {
  command: 'guest <command>',
  describe: `Boot QEMU guests with the devices (machines: ${Object.keys(MACHINES).join(', ')})`,
  builder: (y) =>
    y
      .command(run).command(shell).command(image).command(lock).demandCommand(1)
      .example('devmap guest run -- uname -a', 'boot the default guest, run a command in it')
      .example('devmap guest lock', 'which Debian kernel the guests are pinned to, and whether the archive still has it')
      .example('devmap guest lock --update', 'pin the current kernels and rewrite qemu/guest.lock.json'),
  handler: () => undefined,
};
