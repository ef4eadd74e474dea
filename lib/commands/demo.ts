// `devmap demo`: the main job. Boots the default guest and, from Node inside
// it, draws through KMS (or /dev/fb0 without DRM), answers a message the host put into ivshmem
// and moves a buffer through the edu device's DMA; the host saves the screen.
import type { CommandModule } from 'yargs';

import { demoFailed, describeDemo, runDemo } from '../demo/host.js';
import { machineNames } from '../harness/machines/machines.js';

// artifacts/ is git-ignored here (npm run demo leaves the tree clean); in
// someone else's project it is one clearly named folder, not a stray file.
export const DEFAULT_DEMO_OUT = 'artifacts/devmap-demo.png';

export const demoCommand: CommandModule<object, { out: string; machine?: string; message?: string; timeout: number }> = {
  command: 'demo',
  describe: 'Boot a QEMU guest; from Node inside it draw through KMS (a DRM dumb buffer; /dev/fb0 where the guest has no DRM), exchange messages with the host over ivshmem, run edu DMA; save the screen as PNG',
  builder: (y) =>
    y
      .option('out', { alias: 'o', type: 'string', default: DEFAULT_DEMO_OUT, describe: 'where to save the screenshot (its folder is created)' })
      .option('message', { type: 'string', describe: 'what the host writes into ivshmem for the guest to show' })
      .option('machine', { alias: 'm', type: 'string', choices: machineNames(), describe: 'guest machine (default: x86_64)' })
      .option('timeout', { type: 'number', default: 300, describe: 'hard limit in seconds for the guest' })
      .example('devmap demo', `boot, draw, exchange, save ${DEFAULT_DEMO_OUT} under the current folder`)
      .example('devmap demo --message "hi" -o /tmp/shot.png', 'your own message, another file')
      .epilogue('The last line names the screenshot. The first run downloads the Debian guest kernel and builds the guest image (cached under ~/.cache/devmap, or $DEVMAP_CACHE); later runs start in seconds.'),
  handler: async (a) => {
    const r = await runDemo({ out: a.out, machine: a.machine, message: a.message, timeoutMs: a.timeout * 1000 });
    console.log(describeDemo(r));
    if (!r.ok) throw demoFailed(r);
  },
};
