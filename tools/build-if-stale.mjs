#!/usr/bin/env node
// `npm start` runs this first: it compiles (tsc) only when a TypeScript source or tsconfig.json is
// newer than the last build's stamp, so a second start skips the ~10 s compile. `--always` builds
// regardless (`npm run build`). The stamp (dist/.buildstamp) gets the time the build started, so a
// file saved during a build still counts as newer. A deleted source is not noticed: `npm run build`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = join(root, 'dist', '.buildstamp');
const SKIP = new Set(['node_modules', 'dist', 'data', 'cluster-data']);

/** Newest mtime (ms) of *.ts files and tsconfig.json under dir, skipping build output and dependencies. */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || SKIP.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts') || entry.name === 'tsconfig.json') newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function stampTime() {
  try {
    return statSync(stamp).mtimeMs;
  } catch {
    return -1;
  }
}

const always = process.argv.includes('--always');
const newest = newestSource(root);
if (!always && stampTime() >= newest) {
  process.stderr.write('build: dist/ is up to date\n');
  process.exit(0);
}
// A source dated in the future (clock skew, an archive) must not make every start rebuild.
const began = new Date(Math.max(Date.now(), Math.ceil(newest) + 1)); // +1: utimes rounds through float seconds
process.stderr.write('build: compiling (tsc)\n');
const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
mkdirSync(join(root, 'dist'), { recursive: true });
writeFileSync(stamp, `${began.toISOString()}\n`);
utimesSync(stamp, began, began);
