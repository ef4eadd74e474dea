// devmap drm as a person runs it, on the guest's first card: info, flip,
// pattern and capture (each CLI start costs ~5-10 s under TCG: four runs,
// so this file runs on the machines that have the time, not on every DRM
// variant). Every guest has Node >= 20.19 (ARM guests take trixie's
// whatever their kernel's suite), which the CLI needs.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

import { Drm } from '../../lib/drm/device.js';
import { pickOutput } from '../../lib/drm/presenter.js';
import type { Resources } from '../../lib/drm/resources.js';
import { testCard } from '../../lib/fb/pattern.js';
import { readPng } from '../../lib/fb/png.js';
import { needs } from './helpers/devices.js';
import { CARD, screenDiff } from './helpers/drm.js';
import { diffPixels } from './helpers/host.js';

const present = existsSync(CARD);

needs('drm', present).describe(`devmap drm on ${CARD}`, () => {
  const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
  const devmap = (...args: string[]) => spawnSync(process.execPath, [cli, 'drm', ...args], { encoding: 'utf8' });

  it('info --json lists what the card has', () => {
    const r = devmap('info', '--json');
    expect(r.status, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as Resources & { driver: string; caps: Record<string, number | null> };
    expect(info.caps.dumbBuffer).toBe(1);
    expect(info.connectors[0]!.modes.length).toBeGreaterThan(0);
    expect(info.crtcs.length).toBeGreaterThan(0);
  });

  it('flip --frames 30 --json: 30 flips, 30 events, frame times', () => {
    const r = devmap('flip', '--frames', '30', '--json');
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { frames: number; flips: number; events: number; p50Ms: number; p99Ms: number };
    console.log(`${CARD}: devmap drm flip --frames 30: ${r.stdout.trim()}`);
    expect(report).toMatchObject({ frames: 30, flips: 30, events: 30 });
    expect(report.p99Ms).toBeGreaterThanOrEqual(report.p50Ms);
  });

  it('pattern shows the test card while it runs, capture reads the scan-out back the same', { timeout: 120_000 }, async () => {
    // Closed before the CLI starts: any open file of a card without a master becomes master.
    const mode = (() => {
      using d = Drm.open(CARD, { master: false });
      return pickOutput(d.resources(), {}).mode;
    })();
    const card = testCard(mode.hdisplay, mode.vdisplay);
    const started = performance.now();
    const child = spawn(process.execPath, [cli, 'drm', 'pattern', '--hold', '60'], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      // It says when the picture is up (after a CLI start of several seconds under TCG).
      let said = '';
      await new Promise<void>((resolve, reject) => {
        child.stderr.setEncoding('utf8').on('data', (d: string) => (said += d).includes('devmap: showing') && resolve());
        child.once('exit', (code) => reject(new Error(`devmap drm pattern exited (${code}): ${said}`)));
      });
      const shown = performance.now();
      expect(await screenDiff(CARD, (shot) => diffPixels(shot, card))).toBe(0);
      const out = join(tmpdir(), 'devmap-drm-capture.png');
      const t = performance.now();
      const r = devmap('capture', out);
      console.log(`${CARD}: pattern up after ${(shown - started).toFixed(0)} ms, screendump matched in ${(t - shown).toFixed(0)} ms, capture took ${(performance.now() - t).toFixed(0)} ms`);
      expect(r.status, r.stderr).toBe(0);
      expect(diffPixels(readPng(out), card)).toBe(0);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    expect(child.exitCode ?? 0).toBe(0);
  });
});
