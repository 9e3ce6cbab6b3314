/**
 * `npm run fuzz [-- --inputs N --parser NAME --seed S --broker-inputs M --replay HEX]`
 *
 * Runs every parser-level target (or one) for N inputs (default 1,000,000), then the
 * broker-level pass (M inputs per listener over loopback, canaries after each batch), and prints
 * per target: inputs/s, crashes, hangs, peak RSS. Exits 1 on any crash or hang. A failure prints
 * its seed and input; `--parser NAME --replay HEX` runs that one input again.
 */
import { fuzzBroker } from './broker-level.js';
import { fuzzTarget, type TargetReport } from './engine.js';
import { formatReports } from './report.js';
import { TARGETS } from './targets/index.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const inputs = Number(arg('inputs') ?? 1_000_000);
  const seed = Number(arg('seed') ?? (Date.now() % 1_000_000_007));
  const only = arg('parser');
  const brokerInputs = Number(arg('broker-inputs') ?? 2000);
  const replay = arg('replay');
  const names = only ? [only] : Object.keys(TARGETS);
  for (const n of names) if (!TARGETS[n] && n !== 'broker') throw new Error(`unknown parser ${n}; one of ${Object.keys(TARGETS).join(', ')}, broker`);

  if (replay !== undefined) {
    const t = TARGETS[names[0]]();
    await t.seeds();
    try {
      console.log(await t.run(Buffer.from(replay, 'hex')));
    } finally {
      await t.close?.();
    }
    return;
  }

  console.log(`fuzz seed ${seed}: replay with --seed ${seed}${only ? ` --parser ${only}` : ''}`);
  const reports: TargetReport[] = [];
  for (const name of names) {
    if (name === 'broker') continue;
    const t = TARGETS[name]();
    try {
      const r = await fuzzTarget(t, inputs, seed, (done) => {
        if (process.stdout.isTTY) process.stdout.write(`\r${name}: ${done} inputs`);
      });
      if (process.stdout.isTTY) process.stdout.write('\r');
      reports.push(r);
      console.log(formatReports([r], false));
    } finally {
      await t.close?.();
    }
  }
  if (!only || only === 'broker') reports.push(...await fuzzBroker(brokerInputs, seed));
  console.log('\n' + formatReports(reports, true));
  if (reports.some((r) => r.crashes > 0 || r.hangs > 0)) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 2;
});
