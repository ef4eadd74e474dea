// The host half of `devmap demo`: boots the default guest with a message in
// its ivshmem memory, runs lib/demo/guest.ts there, saves the screen through
// QMP when the guest asks (while its picture is up), and checks the PNG
// against what the guest says it drew.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { devmapError } from '../errors.js';
import { readPng } from '../fb/png.js';
import { stderrLog, type Log } from '../harness/image/cache.js';
import { ensureHostTools } from '../harness/image/hosttools.js';
import { mapFile } from '../map.js';
import { packageRoot } from '../paths.js';
import { HOST_OPS } from '../harness/qemu/hostport.js';
import { runGuest, type GuestResult } from '../harness/qemu/runner.js';
import { GUEST_REPLY_AT, HOST_MESSAGE_AT, readMessage, SAVE_SCREEN_OP, SUMMARY_PREFIX, writeMessage } from './message.js';
import { DEFAULT_FONT } from './text.js';

export interface DemoOptions {
  /** Where the screenshot goes; its folder is created. */
  out: string;
  machine?: string;
  message?: string;
  timeoutMs: number;
  log?: Log;
}

export interface DemoResult {
  ok: boolean;
  run: GuestResult;
  summary?: Record<string, any>;
  reply?: string;
  screenMatches: boolean;
  png: string;
}

const SHM_SIZE = 4 << 20;

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const log = o.log ?? stderrLog;
  ensureHostTools(log, [{ file: DEFAULT_FONT, pkg: 'fonts-dejavu-core' }]);
  const png = resolve(o.out);
  mkdirSync(dirname(png), { recursive: true });
  const shm = `/dev/shm/devmap-demo-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(shm, 'wx');
  try {
    writeSync(fd, Buffer.alloc(SHM_SIZE));
    closeSync(fd);
    {
      using m = mapFile(shm);
      writeMessage(m.bytes, HOST_MESSAGE_AT, o.message ?? `hello from the host, ${new Date().toLocaleTimeString('en-GB')}`);
    }
    let out = '';
    const run = await runGuest({
      machine: o.machine,
      command: ['node', join(packageRoot, 'dist', 'demo', 'guest.js'), DEFAULT_FONT],
      with: [DEFAULT_FONT],
      ivshmem: { path: shm, size: SHM_SIZE },
      hostOps: {
        // The screendump of the display the guest drew on (its PCI address in args).
        [SAVE_SCREEN_OP]: async (args, ctx) => {
          const { png: data } = await HOST_OPS.screendump!(args, ctx);
          writeFileSync(png, Buffer.from(String(data), 'base64'));
          return {};
        },
      },
      timeoutMs: o.timeoutMs,
      onOutput: (t) => (out += t),
      log,
    });
    const line = out.split('\n').find((l) => l.startsWith(SUMMARY_PREFIX));
    const summary = line ? (JSON.parse(line.slice(SUMMARY_PREFIX.length)) as Record<string, any>) : undefined;
    if (!summary) log(`the guest printed no summary; its output:\n${out.trimEnd()}`);
    using m = mapFile(shm, { write: false });
    const reply = readMessage(m.bytes, GUEST_REPLY_AT);
    let screenMatches = false;
    try {
      const shot = readPng(png);
      screenMatches = summary?.frameSha256 === createHash('sha256').update(shot.data).digest('hex');
    } catch (err) {
      log(`no screenshot: ${(err as Error).message}`);
    }
    const ok = run.outcome === 'exited' && run.status === 0 && !!summary && !summary.dma?.error && summary.dma?.equal === true && !!reply && screenMatches;
    return { ok, run, summary, reply, screenMatches, png };
  } finally {
    rmSync(shm, { force: true });
  }
}

/** The summary a person reads. */
export function describeDemo(r: DemoResult): string {
  const s = r.summary;
  const lines = [`guest ${r.run.machine} booted under ${r.run.accel.toUpperCase()}; the command started ${(r.run.bootMs / 1000).toFixed(1)} s after QEMU`];
  if (r.run.outcome !== 'exited' || r.run.status !== 0) lines.push(`the guest run failed: ${r.run.reason || `exit status ${r.run.status}`}`);
  if (s) {
    const d = s.display;
    const iv = s.ivshmem;
    const dma = s.dma;
    lines.push(
      d.path === 'kms'
        ? `display      KMS: a dumb buffer on ${d.device} (${d.driver}) ${d.mode} ${d.format}, pitch ${d.stride}`
        : `display      fbdev: ${d.device} (${d.driver}) ${d.mode} ${d.format}, line_length ${d.stride}${d.why ? ` -- no KMS: ${d.why}` : ''}`,
      `             mapped ${d.mapping}`,
      `ivshmem      ${iv.device} via ${iv.via === 'module' ? 'the devmap_ivshmem module' : 'sysfs resource2'}, ${iv.size >> 20} MiB, cache ${iv.cache}${iv.granted && iv.granted !== iv.cache ? ` (the kernel gave ${iv.granted})` : ''}`,
      `             mapped ${iv.mapping}`,
      `             host -> guest: "${iv.message}"`,
      `             guest -> host: "${r.reply ?? '(no reply)'}"`,
      dma.error ? `edu DMA      failed: ${dma.error}` : `edu DMA      ${dma.bytes} bytes to the device and back: ${dma.equal ? 'equal' : 'DIFFERENT'}; buffer at DMA address ${dma.dmaAddress}`,
      ...(dma.mapping ? [`             mapped ${dma.mapping}`] : []),
    );
  }
  lines.push(`screen       ${r.png}${r.screenMatches ? ' -- pixel-identical to what the guest drew' : ' -- does NOT match what the guest drew'}`);
  return lines.join('\n');
}

export function demoFailed(r: DemoResult): Error {
  return devmapError('ERR_DEVMAP_DEMO', 'the demo did not complete (see above)' + (r.run.reason ? `: ${r.run.reason}` : ''));
}
