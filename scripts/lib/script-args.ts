/**
 * Flag parsing shared by the scripts (`npm run cluster | chaos | soak`): node:util's parseArgs,
 * with `--help` printing the usage (exit 0) and a bad flag or value ending the script with one
 * line naming it and the usage (exit 2).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface ScriptArgs<O extends NonNullable<ParseArgsConfig['options']>> {
  values: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true }>>['values'];
  positionals: string[];
  /** Ends the script with `<script>: message` (exit 2). */
  fail(message: string): never;
  /** A number flag's value, at least `min` (an integer unless `integer` is false). */
  number(name: string, value: string, min: number, integer?: boolean): number;
}

export function scriptArgs<O extends NonNullable<ParseArgsConfig['options']>>(script: string, usage: string, options: O): ScriptArgs<O> {
  const fail = (message: string): never => {
    process.stderr.write(`${script}: ${message}\n`);
    process.exit(2);
  };
  let parsed;
  try {
    parsed = parseArgs({ allowPositionals: true, options: { ...options, help: { type: 'boolean', short: 'h', default: false } } });
  } catch (err) {
    fail(`${(err as Error).message}\n${usage}`);
  }
  if ((parsed!.values as { help?: boolean }).help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const number = (name: string, value: string, min: number, integer = true) => {
    const n = Number(value);
    if (!(integer ? Number.isInteger(n) : Number.isFinite(n)) || n < min) fail(`--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min} (got ${value})`);
    return n;
  };
  return { values: parsed!.values as ScriptArgs<O>['values'], positionals: parsed!.positionals, fail, number };
}
