// Runs in the guest: vitest's forks worker, with its IPC channel carried
// over the "devmap.vitest" virtio-serial port instead of a child_process
// pipe. The host runs vitest itself (config, vite, transforms, reporting:
// fast); the guest only loads the worker runtime and executes tests.
// Frames: 4-byte big-endian length + v8.serialize(message), both ways --
// the "advanced" serialization vitest's forks pool uses.
// Handshake (lib/vitest/pool.ts is the host end): once the worker runtime
// is loaded the bridge says {__devmapLoaded} -- the point where the host may
// save the guest, so that a restored guest starts here -- then waits for
// {__devmapEnv: {env, now}}, this run's environment and the host's clock
// (a restored guest's is the snapshot's), and answers {__devmapReady}.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, read, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import v8 from 'node:v8';

const PORT = 'devmap.vitest';
const name = readdirSync('/sys/class/virtio-ports').find((p) => readFileSync(`/sys/class/virtio-ports/${p}/name`, 'utf8').trim() === PORT);
if (!name) throw new Error(`no "${PORT}" virtio-serial port`);
const fd = openSync(`/dev/${name}`, 'r+');

const send = (msg) => {
  const body = v8.serialize(msg);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  writeSync(fd, Buffer.concat([head, body]));
};

// What vitest's init-forks.js expects of a forked child.
process.send = (msg, ...rest) => {
  send(msg);
  const cb = rest.find((r) => typeof r === 'function');
  if (cb) process.nextTick(cb, null);
  return true;
};
process.connected = true;

// PCI devices whose QEMU model keeps no migration state -- QEMU's edu
// (1234:11e8) -- come back from a restore with a reset config space: BARs,
// MSI and bus mastering off, the driver's registers dead. Their config space
// is read here, before the snapshot point, and written back after a restore
// (BARs and capabilities first, the command register last). /init's
// snapshot point re-probes them instead (qemu/guest/restored.sh).
const PCI = '/sys/bus/pci/devices';
const unmigrated = (() => {
  try {
    return readdirSync(PCI)
      .filter((d) => `${readFileSync(`${PCI}/${d}/vendor`, 'utf8').trim()}:${readFileSync(`${PCI}/${d}/device`, 'utf8').trim()}` === '0x1234:0x11e8')
      .map((d) => ({ dev: d, config: readFileSync(`${PCI}/${d}/config`) }));
  } catch {
    return [];
  }
})();
function putBackPciConfig() {
  for (const { dev, config } of unmigrated) {
    const fd = openSync(`${PCI}/${dev}/config`, 'r+');
    try {
      writeSync(fd, config, 0x10, config.length - 0x10, 0x10);
      writeSync(fd, config, 0x04, 2, 0x04);
    } finally {
      closeSync(fd);
    }
  }
}

let pending = Buffer.alloc(0);
const buf = Buffer.alloc(1 << 20);
function pump() {
  read(fd, buf, 0, buf.length, null, (err, n) => {
    if (err || n === 0) process.exit(err ? 1 : 0);
    pending = Buffer.concat([pending, buf.subarray(0, n)]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
      const len = pending.readUInt32BE(0);
      const msg = v8.deserialize(pending.subarray(4, 4 + len));
      pending = pending.subarray(4 + len);
      if (msg && msg.__devmapStop) process.exit(0);
      if (msg && msg.__devmapEnv) {
        Object.assign(process.env, msg.__devmapEnv.env);
        if (msg.__devmapEnv.restored) putBackPciConfig();
        // Not waited for: forking this process costs a few hundred ms under TCG.
        spawn('date', ['-u', '-s', `@${Number(msg.__devmapEnv.now)}`], { stdio: 'ignore' }).on('error', () => undefined);
        send({ __devmapReady: true });
        continue;
      }
      process.emit('message', msg);
    }
    pump();
  });
}

const cwd = process.argv[2] ?? process.cwd();
const require = createRequire(join(cwd, 'package.json'));
const entry = join(require.resolve('vitest/package.json'), '..', 'dist', 'workers', 'forks.js');
await import(entry);
send({ __devmapLoaded: true });
pump();
