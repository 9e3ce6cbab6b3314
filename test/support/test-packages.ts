/**
 * npm packages that only a test uses and that the default install leaves out (node-rdkafka builds
 * librdkafka from source for minutes): `.ci/run` installs them with `npm install --no-save` after
 * `npm ci`, so package.json and the lock file never list them. As with the Debian clients
 * (debian.ts), a test skips with the install command where one is missing, and fails under CI=true.
 *
 *   before(requireTestPackage('node-rdkafka', '3.6.1'));
 */
import { createRequire } from 'node:module';
import { underCI } from './debian.js';

const require = createRequire(import.meta.url);

/** The package's exports, or null when it is not installed (or its native part did not build). */
export function loadTestPackage<T = unknown>(name: string): T | null {
  try {
    return require(name) as T;
  } catch {
    return null;
  }
}

/** A mocha hook for `before(...)`: skips the suite (fails it under CI=true) when `name` cannot be loaded. */
export function requireTestPackage(name: string, version: string): (this: Mocha.Context) => void {
  return function (this: Mocha.Context) {
    if (loadTestPackage(name) !== null) return;
    const message = `needs npm package ${name} (test-only, not in package.json; npm install --no-save ${name}@${version})`;
    if (underCI()) throw new Error(`${message}; CI=true makes a missing test package a failure`);
    process.stderr.write(`  skipped "${this.test?.parent?.fullTitle() ?? name}" ${message}\n`);
    this.skip();
  };
}
