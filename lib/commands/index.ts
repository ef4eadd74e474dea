// Every CLI command module, in the order --help lists them.
import type { CommandModule } from 'yargs';

import { demoCommand } from './demo.js';
import { drmCommand } from './drm.js';
import { eduCommand } from './edu.js';
import { fbCommand } from './fb.js';
import { guestCommand } from './guest.js';
import { ivshmemCommand } from './ivshmem.js';
import { ivshmemServerCommand } from './ivshmem-doorbell.js';
import { kmodCommand } from './kmod.js';
import { mapCommands } from './map.js';

// yargs types a module by the argv its builder produces, so modules with
// different options share no type: each is checked against its own where it
// is defined, and the parser needs only what they have in common.
export const commands = [demoCommand, ...mapCommands, fbCommand, drmCommand, ivshmemCommand, ivshmemServerCommand, eduCommand, kmodCommand, guestCommand] as CommandModule<object, unknown>[];
