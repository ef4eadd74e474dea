// Horizontal bar charts of benchmark ratios as PNG files, drawn with
// pureimage (the pure-JS canvas devmap already uses for text).
import * as PImage from 'pureimage';

import { writePng } from '../dist/fb/png.js';

const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
const W = 900;
const PAD = 8;
let fontLoaded = false;

/**
 * Text from x, kept inside the image: when it would run past the right
 * edge, it ends just left of `line` (the x of the line it labels), or at the
 * edge when it labels no line.
 */
function label(c, text, x, y, line) {
  const w = c.measureText(text).width;
  const at = x + w <= W - PAD ? x : (line === undefined ? W - PAD : line - 6) - w;
  c.fillText(text, Math.max(PAD, at), y);
}

/**
 * bars: [{ label, value, target?, lower? }] (ratios; 1 = the baseline;
 * `target: null`: this bar has none, whatever the chart's).
 * `baseline`: what 1 stands for (the axis label). `target`: a ratio drawn
 * as a dashed line (or undefined). A bar is green when it meets its own
 * target or else the chart's, red when it misses it (below, or above for a
 * bar with `lower: true`: lower is better), grey without one. Writes `file`.
 */
export function barChart(file, title, bars, { target, baseline } = {}) {
  if (!fontLoaded) {
    PImage.registerFont(FONT, 'bench').loadSync();
    fontLoaded = true;
  }
  const rowH = 34;
  const left = 260;
  const H = 70 + bars.length * rowH + 40;
  const img = PImage.make(W, H);
  const c = img.getContext('2d');
  c.fillStyle = '#ffffff';
  c.fillRect(0, 0, W, H);
  c.fillStyle = '#000000';
  c.font = "18px 'bench'";
  c.fillText(title, 16, 30);
  c.font = "14px 'bench'";
  const text = (b) => `${b.value.toFixed(2)}${b.target != null ? ` (target ${b.lower ? '≤' : '≥'} ${b.target})` : ''}`;
  // The longest bar still has room for its value on its right.
  const room = Math.max(...bars.map((b) => c.measureText(text(b)).width)) + 6 + PAD;
  const max = Math.max(target ?? 0, 1, ...bars.map((b) => b.value));
  const x = (v) => left + ((W - left - room) * v) / max;
  bars.forEach((b, i) => {
    const y = 60 + i * rowH;
    const goal = b.target !== undefined ? b.target : target; // null: this bar has none
    const met = b.lower ? b.value <= goal : b.value >= goal;
    c.fillStyle = '#000000';
    c.fillText(b.label, 16, y + 20);
    c.fillStyle = goal == null ? '#546e7a' : met ? '#2e7d32' : '#c62828';
    c.fillRect(left, y + 4, Math.max(1, x(b.value) - left), rowH - 10);
    c.fillStyle = '#000000';
    c.fillText(text(b), x(b.value) + 6, y + 20);
  });
  const axisY = 60 + bars.length * rowH;
  c.fillStyle = '#555555';
  c.fillRect(x(1), 50, 2, axisY - 50);
  label(c, `1 = ${baseline ?? 'the baseline'}`, x(1) + 6, axisY + 24, x(1));
  if (target !== undefined) {
    c.fillStyle = '#1565c0';
    for (let y = 50; y < axisY; y += 8) c.fillRect(x(target), y, 2, 4);
    label(c, `target ${target}`, x(target) + 6, 48, x(target));
  }
  writePng(file, { width: W, height: H, data: img.data });
}
