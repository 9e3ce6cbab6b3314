/** The broker's version: the `version` of the nearest package.json above this module. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function readPackageVersion(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'junction-broker' && typeof pkg.version === 'string') return (cached = pkg.version);
    } catch {
      // not here: look one directory up
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return (cached = 'unknown');
}
