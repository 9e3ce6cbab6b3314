/**
 * `npm start` compiles only when a source is newer than the last build (tools/build-if-stale.mjs),
 * run here on a tiny project with the same layout: first start builds, second does not, an edited
 * source builds again, `--always` (npm run build) always does.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, realpathSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeTempDir, tempDir } from '../support/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('platform/build-if-stale (npm start)', function () {
  this.timeout(120000);
  let dir: string;
  before(() => {
    dir = tempDir('junction-build-');
    mkdirSync(join(dir, 'tools'));
    mkdirSync(join(dir, 'src'));
    copyFileSync(join(ROOT, 'tools', 'build-if-stale.mjs'), join(dir, 'tools', 'build-if-stale.mjs'));
    symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(dir, 'node_modules'));
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { outDir: 'dist', rootDir: '.', module: 'NodeNext', types: [] }, include: ['src/**/*.ts'] }));
    writeFileSync(join(dir, 'src', 'a.ts'), 'export const a: number = 1;\n');
  });
  after(() => removeTempDir(dir));

  const build = (...args: string[]) => {
    const r = spawnSync(process.execPath, [join(dir, 'tools', 'build-if-stale.mjs'), ...args], { encoding: 'utf8', timeout: 100000 });
    assert.equal(r.status, 0, r.stderr);
    return r.stderr.trim();
  };

  it('builds the first time, not the second, again after an edit, and always with --always', () => {
    assert.equal(build(), 'build: compiling (tsc)');
    assert.ok(existsSync(join(dir, 'dist', 'src', 'a.js')) && existsSync(join(dir, 'dist', '.buildstamp')));
    assert.equal(build(), 'build: dist/ is up to date');
    const later = new Date(Date.now() + 60000);
    utimesSync(join(dir, 'src', 'a.ts'), later, later);
    assert.equal(build(), 'build: compiling (tsc)');
    assert.equal(build(), 'build: dist/ is up to date');
    assert.equal(build('--always'), 'build: compiling (tsc)');
  });

  it('a failed compile leaves the stamp alone, so the next start tries again', () => {
    writeFileSync(join(dir, 'src', 'b.ts'), 'export const b: number = "not a number";\n');
    const later = new Date(Date.now() + 120000); // after the stamp the previous test dated in the future
    utimesSync(join(dir, 'src', 'b.ts'), later, later);
    const r = spawnSync(process.execPath, [join(dir, 'tools', 'build-if-stale.mjs')], { encoding: 'utf8', timeout: 100000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr + r.stdout, /TS2322/);
    const again = spawnSync(process.execPath, [join(dir, 'tools', 'build-if-stale.mjs')], { encoding: 'utf8', timeout: 100000 });
    assert.match(again.stderr, /compiling/);
  });
});
