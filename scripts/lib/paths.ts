/** Where the project is, seen from the compiled dist/scripts/lib/*.js. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const JUNCTION_BIN = join(PROJECT_ROOT, 'bin', 'junction.js');
