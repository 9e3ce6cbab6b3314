/** test/support/test-packages.ts: a missing test-only npm package skips its suite, or fails it under CI=true. */
import assert from 'node:assert/strict';
import { loadTestPackage, requireTestPackage } from '../support/test-packages.js';

describe('platform/test-only npm packages', () => {
  const ci = process.env.CI;
  afterEach(() => {
    if (ci === undefined) delete process.env.CI;
    else process.env.CI = ci;
  });

  it('loads an installed package, and null for a missing one', () => {
    assert.equal(typeof (loadTestPackage<{ parse: unknown }>('yaml')?.parse), 'function');
    assert.equal(loadTestPackage('junction-no-such-package'), null);
  });

  it('a missing package skips the suite with the install command; under CI=true it fails naming the package', () => {
    let skipped = false;
    const ctx = { skip: () => { skipped = true; }, test: { parent: { fullTitle: () => 'probe' } } } as unknown as Mocha.Context;
    delete process.env.CI;
    const write = process.stderr.write;
    let said = '';
    process.stderr.write = ((s: string) => { said += s; return true; }) as typeof process.stderr.write;
    try {
      requireTestPackage('junction-no-such-package', '1.2.3').call(ctx);
    } finally {
      process.stderr.write = write;
    }
    assert.equal(skipped, true);
    assert.match(said, /npm install --no-save junction-no-such-package@1\.2\.3/);
    process.env.CI = 'true';
    assert.throws(() => requireTestPackage('junction-no-such-package', '1.2.3').call(ctx), /junction-no-such-package.*CI=true/);
    requireTestPackage('yaml', '2').call(ctx);
  });
});
