/**
 * The published package: `npm pack` ships the compiled broker (no tests, no TypeScript sources),
 * bin, config/default.yaml, the console assets, README and docs; the packed tarball, unpacked into a
 * project's node_modules, runs `npx junction --version` and `npx junction start`. Installing the
 * tarball with `npm install` needs the registry (this machine's npm cache holds tarballs, not the
 * registry's package documents), so the unpacked package gets the project's own node_modules.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { removeTempDir, tempDir, TEST_HOST } from '../support/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
const AUTO_PORTS = ['mqtt', 'amqp', 'stomp', 'xmpp', 'kafka', 'http'].flatMap((p) => [`--${p}-port`, 'auto']);
const NPM_ENV = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };

describe('platform/package (npm pack)', function () {
  this.timeout(120000);
  let dir: string;
  let files: string[];
  before(() => {
    dir = tempDir('junction-pack-');
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, env: NPM_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const [packed] = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>;
    files = packed.files.map((f) => f.path);
    // A project that depends on the package: node_modules/<name> is the unpacked tarball.
    const app = join(dir, 'app');
    const installed = join(app, 'node_modules', pkg.name);
    mkdirSync(installed, { recursive: true });
    execFileSync('tar', ['-xzf', join(dir, packed.filename), '-C', installed, '--strip-components=1']);
    symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(installed, 'node_modules'));
    mkdirSync(join(app, 'node_modules', '.bin'));
    symlinkSync(join('..', pkg.name, 'bin', 'junction.js'), join(app, 'node_modules', '.bin', 'junction'));
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, dependencies: { [pkg.name]: pkg.version } }));
  });
  after(() => removeTempDir(dir));

  it('contains the compiled broker, bin, default config, console, README and docs, and no tests or sources', () => {
    for (const f of ['bin/junction.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/adapters/kafka/index.js', 'config/default.yaml',
      'plugins/console/console.html', 'README.md', 'docs/configuration.md', 'package.json']) {
      assert.ok(files.includes(f), `${f} is packed`);
    }
    const unwanted = files.filter((f) => f.startsWith('dist/test/') || f.startsWith('dist/bench/') || f.startsWith('dist/fuzz/') || f.startsWith('test/')
      || f.startsWith('node_modules/') || f.startsWith('data/') || f.endsWith('.map') || (f.endsWith('.ts') && !f.endsWith('.d.ts')));
    assert.deepEqual(unwanted, []);
  });

  it('npx junction --version runs from the unpacked tarball', () => {
    const r = spawnSync('npx', ['--no', '--', 'junction', '--version'], { cwd: join(dir, 'app'), env: NPM_ENV, encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  it('npx junction start starts every listener and stops on SIGTERM', async () => {
    const child = spawn('npx', ['--no', '--', 'junction', 'start', '--in-memory', '--host', TEST_HOST, '--log-format', 'json', ...AUTO_PORTS], {
      cwd: join(dir, 'app'), env: { ...NPM_ENV, JUNCTION_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let stopped = false;
    let pid = 0;
    try {
      const listeners: string[] = [];
      await new Promise<void>((resolve, reject) => {
        void exited.then((code) => reject(new Error(`exited ${code} before it started: ${stderr}`)));
        createInterface({ input: child.stdout! }).on('line', (line) => {
          const l = JSON.parse(line) as { msg: string; listener?: string; pid: number };
          pid = l.pid;
          if (l.msg === 'listening' && l.listener) listeners.push(l.listener);
          if (l.msg === 'junction started') resolve();
          if (l.msg === 'junction stopped') stopped = true;
        });
      });
      assert.deepEqual(listeners.sort(), ['amqp', 'http', 'kafka', 'mqtt', 'stomp', 'xmpp']);
    } finally {
      // The broker itself (npx's child, pid from its log lines); npx then exits with its code.
      process.kill(pid || child.pid!, 'SIGTERM');
    }
    assert.equal(await exited, 0);
    assert.ok(stopped, `the broker logged "junction stopped": ${stderr}`);
  });
});
