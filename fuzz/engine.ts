/**
 * The fuzz loop for one target: picks a corpus entry, mutates it, runs it and classifies the
 * result. Crash = any exception the target lets through; hang = any input over 1 s. Inputs whose
 * outcome signature is new join the corpus (a cheap stand-in for coverage feedback, since no
 * coverage-guided engine installs here: see docs/fuzzing.md).
 */
import { mutate } from './mutator.js';
import { fnv1a, Prng } from './prng.js';
import type { FuzzTarget } from './target.js';

export const HANG_MS = 1000;
const MAX_CORPUS = 4096;
const MAX_REPORTED = 20;

export interface Finding {
  kind: 'crash' | 'hang';
  target: string;
  error: string;
  /** The failing input, hex. */
  hex: string;
  /** How many inputs hit this same finding. */
  count: number;
}

export interface TargetReport {
  target: string;
  inputs: number;
  seconds: number;
  crashes: number;
  hangs: number;
  peakRssMiB: number;
  corpus: number;
  signatures: number;
  findings: Finding[];
}

/** The PRNG seed a target uses for a run seed: the same pair always gives the same inputs. */
export function targetSeed(seed: number, target: string): number {
  return fnv1a(target, seed >>> 0);
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const frame = (err.stack ?? '').split('\n').slice(1).find((l) => !l.includes('/fuzz/')) ?? '';
    return `${err.message}${frame ? ` @ ${frame.trim()}` : ''}`;
  }
  return String(err);
}

export async function fuzzTarget(target: FuzzTarget, inputs: number, seed: number, onProgress?: (done: number) => void): Promise<TargetReport> {
  const rng = new Prng(targetSeed(seed, target.name));
  const seeds = await target.seeds();
  if (seeds.length === 0) throw new Error(`${target.name}: no seeds`);
  const corpus = [...seeds];
  const signatures = new Set<string>();
  const findings = new Map<string, Finding>();
  let crashes = 0;
  let hangs = 0;
  let peakRss = process.memoryUsage.rss();
  const dict = target.dictionary ?? [];
  const started = performance.now();

  const record = (kind: Finding['kind'], error: string, input: Buffer): void => {
    const key = `${kind}:${error.replace(/\d+/g, '#')}`;
    const f = findings.get(key);
    if (f) {
      f.count++;
      if (input.length * 2 < f.hex.length) f.hex = input.toString('hex'); // keep the shortest
    } else if (findings.size < MAX_REPORTED) {
      findings.set(key, { kind, target: target.name, error, hex: input.toString('hex'), count: 1 });
    }
  };

  for (let i = 0; i < inputs; i++) {
    // Seeds are run as they are first, then mutations of corpus entries.
    const input = i < seeds.length ? seeds[i] : mutate(rng, rng.pick(corpus), rng.pick(corpus), dict);
    const t0 = performance.now();
    let sig: string | null = null;
    try {
      const r = target.run(input);
      sig = typeof r === 'string' ? r : await r;
    } catch (err) {
      crashes++;
      record('crash', describe(err), input);
    }
    const ms = performance.now() - t0;
    if (ms > HANG_MS) {
      hangs++;
      record('hang', `took ${Math.round(ms)} ms`, input);
    }
    if (sig !== null && !signatures.has(sig)) {
      signatures.add(sig);
      if (corpus.length < MAX_CORPUS) corpus.push(input);
      else corpus[seeds.length + rng.below(MAX_CORPUS - seeds.length)] = input;
    }
    if ((i & 1023) === 1023) {
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
      onProgress?.(i + 1);
      // Let timers and sockets run (async targets do anyway).
      if ((i & 16383) === 16383) await new Promise((r) => setImmediate(r));
    }
  }
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  return {
    target: target.name,
    inputs,
    seconds: (performance.now() - started) / 1000,
    crashes,
    hangs,
    peakRssMiB: Math.round(peakRss / 1048576),
    corpus: corpus.length,
    signatures: signatures.size,
    findings: [...findings.values()],
  };
}
