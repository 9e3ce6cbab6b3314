/**
 * The short fuzz run of `npm test`: every parser-level target for a few thousand mutated inputs
 * (fixed seed, so a failure replays; JUNCTION_FUZZ_SEED picks another) and the broker-level pass
 * with canaries. Fails on any crash or hang and prints the failing input in hex. The long run is
 * `npm run fuzz` (docs/fuzzing.md).
 */
import assert from 'node:assert/strict';
import { fuzzBroker } from '../../fuzz/broker-level.js';
import { fuzzTarget, type TargetReport } from '../../fuzz/engine.js';
import { formatReports } from '../../fuzz/report.js';
import { TARGETS } from '../../fuzz/targets/index.js';

const SEED = Number(process.env.JUNCTION_FUZZ_SEED ?? 20261206);
/** Inputs per target: the slower targets (real HTTP, AMQP through rhea) get fewer. */
const INPUTS: Record<string, number> = { mqtt: 20000, stomp: 20000, kafka: 20000, xmpp: 20000, websocket: 20000, amqp: 10000, 'admin-http': 10000 };
const BROKER_INPUTS = 50;

function assertClean(reports: TargetReport[]): void {
  const bad = reports.filter((r) => r.crashes > 0 || r.hangs > 0);
  assert.equal(bad.length, 0, `fuzz seed ${SEED} (replay: npm run fuzz -- --seed ${SEED} --parser NAME, or --replay HEX):\n${formatReports(bad, false)}`);
}

describe('fuzz: short run', function () {
  this.timeout(180_000);

  for (const name of Object.keys(TARGETS)) {
    it(`${name}: ${INPUTS[name]} mutated inputs, no crash, no input over 1 s`, async () => {
      const t = TARGETS[name]();
      try {
        const r = await fuzzTarget(t, INPUTS[name], SEED);
        assert.equal(r.inputs, INPUTS[name]);
        assert.ok(r.signatures > 1, 'the inputs reached more than one outcome');
        assertClean([r]);
      } finally {
        await t.close?.();
      }
    });
  }

  it(`broker: ${BROKER_INPUTS} mutated sessions per listener over loopback, canaries keep working`, async () => {
    const reports = await fuzzBroker(BROKER_INPUTS, SEED);
    assert.equal(reports.length, 6);
    assertClean(reports);
  });
});
