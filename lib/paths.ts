// Paths inside the installed package. Kept apart from native.ts so that a
// module needing only a path (the harness, the demo) never loads the addon.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Package root: this file is compiled to dist/paths.js, one level below it. */
export const packageRoot = dirname(dirname(fileURLToPath(import.meta.url)));
