/**
 * The README's quick start (the seeds' workflow with `junction` commands), run as written: each
 * line through `sh -c` with `junction` on the PATH (a wrapper around bin/junction.js), the ports
 * rewritten to the test broker's, and the `# → ` lines under a command compared with what it
 * prints on stdout (blank lines aside; TopicIds differ per run). A command whose comment says
 * Ctrl-C ends it (`receive`) gets SIGINT once it printed them.
 */
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeTempDir, startBroker, tempDir, type RunningBroker } from '../support/index.js';
import { BIN, startProcess } from './run.js';

const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

function quickStart(): Array<{ command: string; expect: string[] }> {
  const readme = readFileSync(README, 'utf8');
  const at = readme.indexOf('<!-- readme-test: quick-start -->');
  assert.ok(at >= 0, 'README.md marks its quick start');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at))![1];
  const out: Array<{ command: string; expect: string[] }> = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('# → ')) out.at(-1)!.expect.push(line.slice(4));
    else if (line.trim() && !line.startsWith('#')) out.push({ command: line, expect: [] });
  }
  return out;
}

const normal = (lines: string[]) => lines.map((l) => l.replace(/TopicId: \S+/, 'TopicId: *').trimEnd()).filter((l) => l !== '');

describe('README: the quick start\'s junction commands', function () {
  this.timeout(120_000);
  let b: RunningBroker;
  let dir: string;
  before(async () => {
    b = await startBroker({ kafka: { groupInitialRebalanceDelayMs: 0 } } as never);
    dir = tempDir();
    writeFileSync(join(dir, 'junction'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
    chmodSync(join(dir, 'junction'), 0o755);
  });
  after(async () => {
    await b?.close();
    if (dir) removeTempDir(dir);
  });

  it('runs each command and it prints what the README says', async () => {
    const steps = quickStart();
    assert.ok(steps.length >= 9, 'the quick start has its commands');
    const env = { PATH: `${dir}:${process.env.PATH}` };
    for (const step of steps) {
      const command = step.command
        .replace(/localhost:9092/g, `127.0.0.1:${b.ports.kafka}`)
        .replace(/mqtt:\/\/localhost\//g, `mqtt://127.0.0.1:${b.ports.mqtt}/`)
        .replace(/kafka:\/\/localhost\//g, `kafka://127.0.0.1:${b.ports.kafka}/`);
      // `exec`: a lone command replaces the shell, so a Ctrl-C (SIGINT) reaches junction itself.
      const running = startProcess('sh', ['-c', command.startsWith('junction ') ? `exec ${command}` : command], '', 60_000, env);
      const want = normal(step.expect);
      if (/Ctrl-C/.test(step.command)) {
        for (let i = 0; i < 300 && normal(running.stdout().split('\n')).length < want.length; i++) await new Promise((r) => setTimeout(r, 100));
        running.child.kill('SIGINT');
      }
      const r = await running.result;
      assert.equal(r.code, 0, `${step.command}: ${r.stderr}`);
      assert.deepEqual(normal(r.stdout.split('\n')), want, step.command);
    }
  });
});
