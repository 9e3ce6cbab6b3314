'use strict';
// Mocha's spec output, then as the very last line exactly `N passed, N failed` (plus
// `, N skipped` when tests are pending): CI reads only that closing line.
// CommonJS because mocha loads reporters with require().
const { reporters } = require('mocha');

class SummaryReporter extends reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once('end', () => {
      const s = runner.stats || this.stats;
      const skipped = s.pending > 0 ? `, ${s.pending} skipped` : '';
      process.stdout.write(`${s.passes} passed, ${s.failures} failed${skipped}\n`);
    });
  }
}

module.exports = SummaryReporter;
