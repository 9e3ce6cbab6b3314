/**
 * Tests that need a client from a Debian package (kcat, mosquitto_pub, Python modules from
 * python3-* packages) skip with a clear message where it is missing, except under CI=true, where
 * a missing client fails the run (.ci/run installs them all).
 *
 *   before(requireDebianClient('kcat', 'kcat'));                    // a binary on PATH
 *   before(requireDebianClient('python3-kafka', 'python3:kafka'));  // a module for /usr/bin/python3
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Debian's Python, where python3-* packages install their modules. */
export const DEBIAN_PYTHON = '/usr/bin/python3';

const probed = new Map<string, boolean>();

function onPath(binary: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, binary), constants.X_OK);
      return true;
    } catch {
      /* next */
    }
  }
  return false;
}

/** `probe`: a binary name, or `python3:<module>` for a module importable by /usr/bin/python3. */
export function hasDebianClient(probe: string): boolean {
  let ok = probed.get(probe);
  if (ok === undefined) {
    if (probe.startsWith('python3:')) {
      const r = spawnSync(DEBIAN_PYTHON, ['-c', `import ${probe.slice('python3:'.length)}`], { stdio: 'ignore', timeout: 20000 });
      ok = r.status === 0;
    } else {
      ok = onPath(probe);
    }
    probed.set(probe, ok);
  }
  return ok;
}

export const underCI = (): boolean => process.env.CI === 'true';

/** Skips the current suite/test (or fails it under CI=true) when the client is missing. */
export function skipUnlessDebianClient(ctx: Mocha.Context, name: string, probe: string): void {
  if (hasDebianClient(probe)) return;
  const what = probe.startsWith('python3:') ? `Python module ${probe.slice(8)} for ${DEBIAN_PYTHON}` : `${probe} on PATH`;
  const message = `needs Debian package ${name} (${what} not found; apt-get install -y ${name})`;
  if (underCI()) throw new Error(`${message}; CI=true makes a missing client a failure`);
  const title = ctx.currentTest?.fullTitle() ?? ctx.test?.parent?.fullTitle() ?? ctx.test?.title ?? '';
  process.stderr.write(`  skipped ${title ? `"${title}" ` : ''}${message}\n`);
  ctx.skip();
}

/** A mocha hook/test function for `before(...)` or `beforeEach(...)`. */
export function requireDebianClient(name: string, probe: string = name): (this: Mocha.Context) => void {
  return function (this: Mocha.Context) {
    skipUnlessDebianClient(this, name, probe);
  };
}
