#!/usr/bin/env node
// From open to a flip, as docs/drm.md walks through it: pick a card by its
// driver, set a mode with one dumb buffer, then 60 double-buffered frames,
// each awaited on its flip event. Run it in a guest:
//   devmap guest run --with examples/drm -- node examples/drm/flip.mjs [DRIVER]
// (DRIVER: bochs-drm, virtio_gpu, ...; default the first card).
import { Drm, Presenter, testCard } from 'devmap';

const want = process.argv[2];
const card = Drm.cards().find((c) => !want || c.driver === want);
if (!card) throw new Error(`no DRM card${want ? ` with driver ${want}` : ''}: ${JSON.stringify(Drm.cards())}`);

const drm = Drm.open(card.path); // takes DRM master
try {
  const res = drm.resources(); // connectors (probed), encoders, CRTCs, planes
  const con = res.connectors.find((c) => c.status === 'connected' && c.modes.length);
  const mode = con.modes.find((m) => m.preferred) ?? con.modes[0];
  const crtc = res.encoders.find((e) => e.id === con.encoderId)?.crtcId || res.crtcs[0].id;
  console.log(`${card.path} (${drm.driver}): ${con.name} ${mode.name}, CRTC ${crtc}`);

  // One buffer, one modeset; drawn after it (bochs-drm moves the buffer into VRAM then).
  const buf = drm.createDumb(mode.hdisplay, mode.vdisplay, 32);
  drm.setCrtc(crtc, con.id, mode, buf);
  buf.putImage(0, 0, testCard(buf.width, buf.height));
  console.log(`test card up (pitch ${buf.pitch}); DIRTYFB needed: ${drm.dirty(buf)}`);

  // Double buffering: draw into back, present() flips and resolves on the event.
  const p = Presenter.open(drm, { connector: con.id, mode, crtc });
  const t0 = performance.now();
  let last;
  for (let k = 0; k < 60; k++) {
    p.back.clear('black');
    p.back.fillRect((k * 16) % (mode.hdisplay - 40), 0, 40, mode.vdisplay, 'white');
    last = await p.present(); // { crtcId, sequence, timestampUs }
  }
  console.log(`60 flips, ${((performance.now() - t0) / 60).toFixed(1)} ms each; last event ${JSON.stringify(last)}`);
  p.close();
  buf.destroy();
} finally {
  drm.close(); // puts back what the CRTC showed before
}
