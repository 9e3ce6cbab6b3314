/**
 * Mutations of a seed input: bit flips, byte sets, inserts and deletes, length-field edits (big,
 * zero, negative, off by one; fixed-width big-endian and varint), splices of two inputs,
 * truncation, repetition of a slice and insertion of protocol tokens from a dictionary.
 */
import type { Prng } from './prng.js';

export const MAX_INPUT = 65536;

const INTERESTING_8 = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x0d, 0x3a, 0x5c];
const INTERESTING_32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

type Mutation = (rng: Prng, input: Buffer, other: Buffer, dict: readonly Buffer[]) => Buffer;

function at(rng: Prng, input: Buffer): number {
  return rng.below(input.length + 1);
}

const bitFlip: Mutation = (rng, input) => {
  if (input.length === 0) return input;
  const out = Buffer.from(input);
  const n = 1 + rng.below(4);
  for (let i = 0; i < n; i++) out[rng.below(out.length)] ^= 1 << rng.below(8);
  return out;
};

const byteSet: Mutation = (rng, input) => {
  if (input.length === 0) return input;
  const out = Buffer.from(input);
  out[rng.below(out.length)] = rng.chance(0.5) ? rng.pick(INTERESTING_8) : rng.below(256);
  return out;
};

const insertBytes: Mutation = (rng, input) => {
  const pos = at(rng, input);
  const n = 1 + rng.below(16);
  const ins = Buffer.alloc(n);
  const fill = rng.chance(0.3) ? rng.pick(INTERESTING_8) : -1;
  for (let i = 0; i < n; i++) ins[i] = fill >= 0 ? fill : rng.below(256);
  return Buffer.concat([input.subarray(0, pos), ins, input.subarray(pos)]);
};

const deleteBytes: Mutation = (rng, input) => {
  if (input.length === 0) return input;
  const pos = rng.below(input.length);
  const n = 1 + rng.below(Math.min(32, input.length - pos));
  return Buffer.concat([input.subarray(0, pos), input.subarray(pos + n)]);
};

/** Overwrites 1, 2 or 4 bytes (big-endian) with a length-like value, or writes a maximal varint. */
const lengthEdit: Mutation = (rng, input) => {
  if (input.length === 0) return input;
  const out = Buffer.from(input);
  const width = rng.pick([1, 2, 4, 4, 0]);
  const pos = rng.below(out.length);
  if (width === 0) {
    const varint = rng.pick([[0xff, 0xff, 0xff, 0x7f], [0xff, 0xff, 0xff, 0xff, 0x0f], [0x80, 0x80, 0x80, 0x80, 0x80], [0x00], [0xff, 0x01]]);
    for (let i = 0; i < varint.length && pos + i < out.length; i++) out[pos + i] = varint[i];
    return out;
  }
  if (pos + width > out.length) return out;
  const old = width === 1 ? out[pos] : width === 2 ? out.readUInt16BE(pos) : out.readUInt32BE(pos);
  const choice = rng.below(4);
  let v = choice === 0 ? rng.pick(INTERESTING_32) : choice === 1 ? old + 1 : choice === 2 ? old - 1 : old + input.length;
  const mask = width === 1 ? 0xff : width === 2 ? 0xffff : 0xffffffff;
  v = (v >>> 0) & mask;
  if (width === 1) out[pos] = v;
  else if (width === 2) out.writeUInt16BE(v >>> 0, pos);
  else out.writeUInt32BE(v >>> 0, pos);
  return out;
};

const splice: Mutation = (rng, input, other) => {
  const a = at(rng, input);
  const b = rng.below(other.length + 1);
  return Buffer.concat([input.subarray(0, a), other.subarray(b)]);
};

const truncate: Mutation = (rng, input) => input.subarray(0, rng.below(input.length + 1));

const repeat: Mutation = (rng, input) => {
  if (input.length === 0) return input;
  const start = rng.below(input.length);
  const len = 1 + rng.below(Math.min(256, input.length - start));
  const times = 1 + rng.below(rng.chance(0.2) ? 256 : 8);
  const piece = input.subarray(start, start + len);
  return Buffer.concat([input.subarray(0, start + len), ...Array.from({ length: times }, () => piece), input.subarray(start + len)]);
};

const dictionaryInsert: Mutation = (rng, input, _other, dict) => {
  if (dict.length === 0) return input;
  const token = rng.pick(dict);
  const pos = at(rng, input);
  if (rng.chance(0.5)) return Buffer.concat([input.subarray(0, pos), token, input.subarray(pos)]);
  const out = Buffer.from(input);
  token.copy(out, pos);
  return out;
};

const MUTATIONS: readonly Mutation[] = [
  bitFlip, bitFlip, byteSet, byteSet, insertBytes, deleteBytes, lengthEdit, lengthEdit, lengthEdit,
  splice, truncate, repeat, dictionaryInsert, dictionaryInsert,
];

/** One to four stacked mutations of `input` (`other` is a second corpus entry for splices). */
export function mutate(rng: Prng, input: Buffer, other: Buffer, dict: readonly Buffer[]): Buffer {
  let out = input;
  const n = 1 + rng.below(rng.chance(0.7) ? 2 : 4);
  for (let i = 0; i < n; i++) out = rng.pick(MUTATIONS)(rng, out, other, dict);
  return out.length > MAX_INPUT ? out.subarray(0, MAX_INPUT) : out;
}
