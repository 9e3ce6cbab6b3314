/**
 * adapters/amqp/rhea-internals.ts patches rhea's engine internals, checked against one rhea
 * version: this fails when the installed rhea (or package.json's pin) is another one, so an
 * upgrade means re-reading rhea's lib/connection.js, session.js, link.js, transport.js, sasl.js
 * and types.js against rhea-internals.ts and rhea-types.ts first.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { RHEA_CHECKED_VERSION } from '../../adapters/amqp/rhea-internals.js';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const json = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

describe('amqp rhea pin', () => {
  it('the installed rhea is the version rhea-internals.ts was checked against', () => {
    const installed = json(require.resolve('rhea/package.json')).version;
    assert.equal(installed, RHEA_CHECKED_VERSION, `rhea ${String(installed)} is installed; rhea-internals.ts was checked against ${RHEA_CHECKED_VERSION}`);
  });

  it('package.json and package-lock.json pin exactly that version', () => {
    const pkg = json(`${root}package.json`) as { dependencies: Record<string, string> };
    assert.equal(pkg.dependencies.rhea, RHEA_CHECKED_VERSION);
    const lock = json(`${root}package-lock.json`) as { packages: Record<string, { version?: string; dependencies?: Record<string, string> }> };
    assert.equal(lock.packages[''].dependencies?.rhea, RHEA_CHECKED_VERSION);
    assert.equal(lock.packages['node_modules/rhea'].version, RHEA_CHECKED_VERSION);
  });
});
