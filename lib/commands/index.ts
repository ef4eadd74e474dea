// Every CLI command module, in the order --help lists them.
import type { CommandModule } from 'yargs';

import { demoCommand } from './demo.js';
import { eduCommand } from './edu.js';
import { fbCommand } from './fb.js';
import { guestCommand } from './guest.js';
import { ivshmemCommand } from './ivshmem.js';
import { ivshmemServerCommand } from './ivshmem-doorbell.js';
import { mapCommands } from './map.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [demoCommand, ...mapCommands, fbCommand, ivshmemCommand, ivshmemServerCommand, eduCommand, guestCommand];
