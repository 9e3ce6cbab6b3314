/**
 * Argument parsing for every tool, on commander: long flags named as Kafka's tools name them,
 * `--help` on each command, and every parse failure turned into one UsageError line that names
 * the flag (commander's own output is silenced so nothing else reaches the terminal).
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { CliError, UsageError } from './errors.js';

/** A command named `junction <name>` that throws instead of exiting. */
export function newCommand(name: string, summary: string): Command {
  const cmd = new Command(`junction ${name}`);
  cmd
    .description(summary)
    .allowExcessArguments(false)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, outputError: () => undefined })
    .helpOption('-h, --help', 'show this help and exit');
  return cmd;
}

/** Parses `argv` (the words after the command); false when --help was shown instead. */
export function parseArgs(cmd: Command, argv: string[]): boolean {
  if (argv.some((a) => a === '--zookeeper' || a.startsWith('--zookeeper='))) {
    // Kafka 3's kafka-topics.sh and kafka-consumer-groups.sh answer "zookeeper is not a recognized
    // option" (with a stack trace); seeds written for Kafka 2 still carry the flag.
    throw new UsageError(`${cmd.name()}: zookeeper is not a recognized option (Kafka 3's tools connect with --bootstrap-server host:port; Junction has no ZooKeeper)`);
  }
  try {
    cmd.parse(argv, { from: 'user' });
    return true;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help') return false;
      throw new UsageError(`${cmd.name()}: ${err.message.replace(/^error: /, '')} (see ${cmd.name()} --help)`);
    }
    throw err;
  }
}

/** Repeated flags (`--property a=b --property c=d`) gathered into a list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`not an integer`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`must be ${max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `between ${min} and ${max}`}`);
    return n;
  };
}

/**
 * `k=v` pairs (from repeated flags, each possibly `a=1,b=2` when `commas`) into a map. Values are
 * trimmed except with `keepSpaces` (Kafka keeps `--property key.separator=" | "` as typed).
 */
export function keyValues(items: string[] | undefined, flag: string, commas = false, keepSpaces = false): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of items ?? []) {
    for (const part of commas ? splitConfigList(item) : [item]) {
      const at = part.indexOf('=');
      if (at <= 0) throw new UsageError(`${flag}: expected key=value, got "${part}"`);
      out.set(part.slice(0, at).trim(), keepSpaces ? part.slice(at + 1) : part.slice(at + 1).trim());
    }
  }
  return out;
}

/** Kafka's `--add-config a=1,b=[x,y]`: commas split entries except inside square brackets. */
function splitConfigList(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '[') depth++;
    else if (ch === ']') depth = Math.max(0, depth - 1);
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur) out.push(cur);
  return out.map((p) => p.replace(/=\[(.*)\]$/, '=$1'));
}

/** Exactly one of the action flags (Kafka's tools: --create | --list | --describe ...). */
export function oneAction<T extends string>(opts: object, actions: readonly T[], tool: string): T {
  const given = actions.filter((a) => (opts as Record<string, unknown>)[a] === true);
  const flag = (a: string) => `--${a.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  if (given.length !== 1) {
    throw new UsageError(`junction ${tool}: exactly one of ${actions.map(flag).join(', ')} is needed${given.length ? ` (got ${given.map(flag).join(' and ')})` : ''}`);
  }
  return given[0];
}

export function need<T>(value: T | undefined, flag: string, tool: string, why: string): T {
  if (value === undefined || value === null || value === '') throw new UsageError(`junction ${tool}: ${flag} is required ${why}`);
  return value;
}

/** The bootstrap list from --bootstrap-server (or --broker-list, the older name). */
export function bootstrapOf(opts: { bootstrapServer?: string; brokerList?: string }, tool: string): string[] {
  const list = opts.bootstrapServer ?? opts.brokerList;
  if (!list) throw new UsageError(`junction ${tool}: --bootstrap-server is required (host:port of a Kafka listener)`);
  const brokers = list.split(',').map((s) => s.trim()).filter(Boolean);
  for (const b of brokers) {
    if (!/^(\[[^\]]+\]|[^:]+):\d+$/.test(b)) throw new CliError(`junction ${tool}: --bootstrap-server: expected host:port, got "${b}"`);
  }
  return brokers;
}
