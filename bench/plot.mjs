// Horizontal bar charts of benchmark ratios as PNG files, drawn with
// pureimage (the pure-JS canvas devmap already uses for text).
import * as PImage from 'pureimage';

import { writePng } from '../dist/fb/png.js';

const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
let fontLoaded = false;

/**
 * bars: [{ label, value }] (ratios; 1 = the baseline), target: a ratio drawn
 * as a dashed line (or undefined). Writes `file`.
 */
export function barChart(file, title, bars, { target, unit = '× baseline' } = {}) {
  if (!fontLoaded) {
    PImage.registerFont(FONT, 'bench').loadSync();
    fontLoaded = true;
  }
  const W = 900;
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
  const max = Math.max(target ?? 0, 1, ...bars.map((b) => b.value)) * 1.1;
  const x = (v) => left + ((W - left - 40) * v) / max;
  c.font = "14px 'bench'";
  bars.forEach((b, i) => {
    const y = 60 + i * rowH;
    c.fillStyle = '#000000';
    c.fillText(b.label, 16, y + 20);
    c.fillStyle = target === undefined || b.value >= target ? '#2e7d32' : '#c62828';
    c.fillRect(left, y + 4, Math.max(1, x(b.value) - left), rowH - 10);
    c.fillStyle = '#000000';
    c.fillText(`${b.value.toFixed(2)}`, x(b.value) + 6, y + 20);
  });
  const axisY = 60 + bars.length * rowH;
  c.fillStyle = '#555555';
  c.fillRect(x(1), 50, 2, axisY - 50);
  c.fillText(`1 = baseline (${unit})`, x(1) + 6, axisY + 24);
  if (target !== undefined) {
    c.fillStyle = '#1565c0';
    for (let y = 50; y < axisY; y += 8) c.fillRect(x(target), y, 2, 4);
    c.fillText(`target ${target}`, x(target) + 6, 48);
  }
  writePng(file, { width: W, height: H, data: img.data });
}
