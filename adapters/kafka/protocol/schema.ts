/**
 * Declarative Kafka message schemas and the one generic codec that reads and writes them, after
 * Kafka's clients/src/main/resources/common/message/*.json: every field carries the versions it
 * exists in, the versions it may be null in, its default, and (in flexible versions) an optional
 * tag. A new API version is a change of data in protocol/messages/, never of this code.
 *
 * Schemas are compiled once per (message, version) into a list of closures, so the interpretation
 * cost is paid at start-up, not per request.
 */
import { KafkaReader, KafkaWriter, ProtocolError } from './wire.js';

export type PrimitiveType =
  | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'float64' | 'bool'
  | 'string' | 'bytes' | 'records' | 'uuid'
  | '[]int8' | '[]int16' | '[]int32' | '[]int64' | '[]string' | '[]uuid';

export class VersionRange {
  constructor(readonly min: number, readonly max: number) {}

  static parse(text: string): VersionRange {
    if (text === 'none') return new VersionRange(1, 0);
    const plus = /^(\d+)\+$/.exec(text);
    if (plus) return new VersionRange(Number(plus[1]), Infinity);
    const range = /^(\d+)-(\d+)$/.exec(text);
    if (range) return new VersionRange(Number(range[1]), Number(range[2]));
    if (/^\d+$/.test(text)) return new VersionRange(Number(text), Number(text));
    throw new Error(`bad version range "${text}"`);
  }

  has(v: number): boolean {
    return v >= this.min && v <= this.max;
  }
}

export interface FieldOptions {
  /** Versions in which the value may be null. */
  nullable?: string;
  /** Value when the field is absent from a version (or omitted when writing). */
  default?: unknown;
  /** Versions in which the field is a tagged field (flexible versions only). */
  tagged?: string;
  tag?: number;
  /** 'none' keeps the legacy encoding even in flexible versions (the request header's client id). */
  flexible?: 'none';
}

export interface FieldDef {
  name: string;
  kind: 'value' | 'array' | 'struct';
  type: PrimitiveType | null;
  versions: VersionRange;
  nullable: VersionRange | null;
  tagged: VersionRange | null;
  tag: number;
  default: unknown;
  legacyEncoding: boolean;
  fields: FieldDef[];
}

export interface MessageSchema {
  name: string;
  apiKey: number;
  valid: VersionRange;
  flexible: VersionRange;
  fields: FieldDef[];
}

function def(name: string, kind: FieldDef['kind'], type: PrimitiveType | null, versions: string, fields: FieldDef[], o: FieldOptions = {}): FieldDef {
  return {
    name, kind, type, fields,
    versions: VersionRange.parse(versions),
    nullable: o.nullable ? VersionRange.parse(o.nullable) : null,
    tagged: o.tagged ? VersionRange.parse(o.tagged) : null,
    tag: o.tag ?? -1,
    default: o.default,
    legacyEncoding: o.flexible === 'none',
  };
}

/** A field of a primitive type. */
export function f(name: string, type: PrimitiveType, versions = '0+', options?: FieldOptions): FieldDef {
  return def(name, 'value', type, versions, [], options);
}

/** An array of structs. */
export function arr(name: string, versions: string, fields: FieldDef[], options?: FieldOptions): FieldDef {
  return def(name, 'array', null, versions, fields, options);
}

/** A nested struct (not an array). */
export function struct(name: string, versions: string, fields: FieldDef[], options?: FieldOptions): FieldDef {
  return def(name, 'struct', null, versions, fields, options);
}

export function message(name: string, apiKey: number, valid: string, flexible: string, fields: FieldDef[]): MessageSchema {
  return { name, apiKey, valid: VersionRange.parse(valid), flexible: VersionRange.parse(flexible), fields };
}

// ---- the generic codec -------------------------------------------------------------------

// Decoded messages are plain objects whose shape the schema gives; handlers declare the
// interfaces they rely on.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Struct = Record<string, any>;

type ReadFn = (r: KafkaReader) => unknown;
type WriteFn = (w: KafkaWriter, value: unknown) => void;

export interface StructCodec {
  read(r: KafkaReader): Struct;
  write(w: KafkaWriter, value: Struct): void;
}

function defaultOf(field: FieldDef, version: number): unknown {
  if (field.default !== undefined) return field.default;
  if (field.kind === 'array') return [];
  if (field.kind === 'struct') return compileStruct(field.fields, version, false).defaults();
  switch (field.type) {
    case 'bool': return false;
    case 'string': return field.nullable?.has(version) ? null : '';
    case 'bytes': return field.nullable?.has(version) ? null : Buffer.alloc(0);
    case 'records': return null;
    case 'uuid': return Buffer.alloc(16);
    case '[]int8': case '[]int16': case '[]int32': case '[]int64': case '[]string': case '[]uuid': return [];
    default: return 0;
  }
}

function primitiveIO(type: PrimitiveType, compact: boolean, nullable: boolean, name: string): [ReadFn, WriteFn] {
  const nonNull = (v: unknown): never => { throw new ProtocolError(`field ${name} may not be null in this version`); };
  switch (type) {
    case 'int8': return [(r) => r.int8(), (w, v) => w.int8(v as number)];
    case 'int16': return [(r) => r.int16(), (w, v) => w.int16(v as number)];
    case 'uint16': return [(r) => r.uint16(), (w, v) => w.uint16(v as number)];
    case 'int32': return [(r) => r.int32(), (w, v) => w.int32(v as number)];
    case 'uint32': return [(r) => r.uint32(), (w, v) => w.uint32(v as number)];
    case 'int64': return [(r) => r.int64(), (w, v) => w.int64(v as number | bigint)];
    case 'float64': return [(r) => r.float64(), (w, v) => w.float64(v as number)];
    case 'bool': return [(r) => r.bool(), (w, v) => w.bool(Boolean(v))];
    case 'uuid': return [(r) => r.uuid(), (w, v) => w.uuid(v as Buffer)];
    case 'string':
      return [
        (r) => { const s = r.string(compact); return s === null && !nullable ? nonNull(s) : s; },
        (w, v) => { if (v === null && !nullable) nonNull(v); w.string(v as string | null, compact); },
      ];
    case 'bytes':
      return [
        (r) => { const b = r.bytes(compact); return b === null && !nullable ? nonNull(b) : b; },
        (w, v) => { if (v === null && !nullable) nonNull(v); w.bytes(v as Buffer | null, compact); },
      ];
    case 'records':
      // Read as a view into the request; written from one buffer or a list of stored batches.
      return [
        (r) => r.bytes(compact),
        (w, v) => (Array.isArray(v) ? w.chunkedBytes(v as Buffer[], compact) : w.bytes(v as Buffer | null, compact)),
      ];
    default: {
      const elem = type.slice(2) as PrimitiveType;
      const [re, we] = primitiveIO(elem, compact, false, name);
      const size = elem === 'int8' ? 1 : elem === 'int16' ? 2 : elem === 'int64' ? 8 : elem === 'uuid' ? 16 : elem === 'int32' ? 4 : 1;
      return [
        (r) => {
          const n = r.arrayLength(compact, size);
          if (n === null) return nullable ? null : nonNull(n);
          const out = new Array<unknown>(n);
          for (let i = 0; i < n; i++) out[i] = re(r);
          return out;
        },
        (w, v) => {
          if (v === null || v === undefined) {
            if (!nullable) nonNull(v);
            w.arrayLength(null, compact);
            return;
          }
          const list = v as unknown[];
          w.arrayLength(list.length, compact);
          for (const x of list) we(w, x);
        },
      ];
    }
  }
}

interface CompiledStruct extends StructCodec {
  defaults(): Struct;
}

const cache = new WeakMap<FieldDef[], Map<string, CompiledStruct>>();

/** Compiles the fields of one struct for one version (`flexible`: compact types and tagged fields). */
export function compileStruct(fields: FieldDef[], version: number, flexible: boolean): CompiledStruct {
  let perVersion = cache.get(fields);
  if (!perVersion) cache.set(fields, (perVersion = new Map()));
  const key = `${version}/${flexible}`;
  const hit = perVersion.get(key);
  if (hit) return hit;

  const regular: Array<{ name: string; read: ReadFn; write: WriteFn; dflt: () => unknown }> = [];
  const tagged = new Map<number, { name: string; read: ReadFn; write: WriteFn; dflt: () => unknown }>();
  const absent: Array<{ name: string; dflt: () => unknown }> = [];

  for (const field of fields) {
    const dflt = () => {
      const d = defaultOf(field, version);
      return Array.isArray(d) ? [...d] : d;
    };
    if (!field.versions.has(version)) {
      absent.push({ name: field.name, dflt });
      continue;
    }
    const compact = flexible && !field.legacyEncoding;
    const nullable = field.nullable?.has(version) ?? false;
    let read: ReadFn;
    let write: WriteFn;
    if (field.kind === 'value') {
      [read, write] = primitiveIO(field.type!, compact, nullable, field.name);
    } else if (field.kind === 'struct') {
      const inner = compileStruct(field.fields, version, flexible);
      read = (r) => inner.read(r);
      write = (w, v) => inner.write(w, (v ?? inner.defaults()) as Struct);
    } else {
      const inner = compileStruct(field.fields, version, flexible);
      const name = field.name;
      read = (r) => {
        const n = r.arrayLength(compact, 1);
        if (n === null) {
          if (!nullable) throw new ProtocolError(`array ${name} may not be null in this version`);
          return null;
        }
        const out = new Array<Struct>(n);
        for (let i = 0; i < n; i++) out[i] = inner.read(r);
        return out;
      };
      write = (w, v) => {
        if (v === null || v === undefined) {
          if (!nullable && v === null) throw new ProtocolError(`array ${name} may not be null in this version`);
          w.arrayLength(v === null ? null : 0, compact);
          return;
        }
        const list = v as Struct[];
        w.arrayLength(list.length, compact);
        for (const x of list) inner.write(w, x);
      };
    }
    const entry = { name: field.name, read, write, dflt };
    if (flexible && field.tagged?.has(version)) tagged.set(field.tag, entry);
    else regular.push(entry);
  }
  const taggedSorted = [...tagged.entries()].sort((a, b) => a[0] - b[0]);

  const compiled: CompiledStruct = {
    defaults() {
      const o: Struct = {};
      for (const e of regular) o[e.name] = e.dflt();
      for (const [, e] of taggedSorted) o[e.name] = e.dflt();
      for (const e of absent) o[e.name] = e.dflt();
      return o;
    },
    read(r) {
      const o: Struct = {};
      for (const e of regular) o[e.name] = e.read(r);
      if (flexible) {
        for (const [, e] of taggedSorted) o[e.name] = e.dflt();
        const n = r.uvarint();
        if (n > r.remaining) throw new ProtocolError('too many tagged fields');
        for (let i = 0; i < n; i++) {
          const tag = r.uvarint();
          const size = r.uvarint();
          const e = tagged.get(tag);
          if (!e) {
            r.raw(size); // unknown tags are skipped, as KIP-482 asks
            continue;
          }
          const start = r.pos;
          const sub = new KafkaReader(r.buf, start, start + size);
          if (start + size > r.end) throw new ProtocolError('tagged field runs past its end');
          o[e.name] = e.read(sub);
          r.pos = start + size;
        }
      }
      for (const e of absent) o[e.name] = e.dflt();
      return o;
    },
    write(w, value) {
      for (const e of regular) {
        const v = value[e.name];
        e.write(w, v === undefined ? e.dflt() : v);
      }
      if (!flexible) return;
      const present: Array<[number, Buffer]> = [];
      for (const [tag, e] of taggedSorted) {
        const v = value[e.name];
        if (v === undefined || v === null || isDefault(v, e.dflt())) continue;
        const sub = new KafkaWriter(64);
        e.write(sub, v);
        present.push([tag, sub.toBuffer()]);
      }
      w.uvarint(present.length);
      for (const [tag, bytes] of present) w.uvarint(tag).uvarint(bytes.length).raw(bytes);
    },
  };
  perVersion.set(key, compiled);
  return compiled;
}

function isDefault(v: unknown, d: unknown): boolean {
  if (v === d) return true;
  if (Array.isArray(v) && Array.isArray(d)) return v.length === 0 && d.length === 0;
  if (Buffer.isBuffer(v) && Buffer.isBuffer(d)) return v.equals(d);
  if (typeof v === 'object' && v !== null && typeof d === 'object' && d !== null) {
    return Object.keys(d).every((k) => isDefault((v as Struct)[k], (d as Struct)[k]));
  }
  return false;
}

/** The codec of one message at one version. */
export function codecFor(schema: MessageSchema, version: number): StructCodec {
  if (!schema.valid.has(version)) throw new ProtocolError(`${schema.name} has no version ${version}`);
  return compileStruct(schema.fields, version, schema.flexible.has(version));
}

export function decode(schema: MessageSchema, version: number, buf: Buffer, offset = 0): Struct {
  const r = new KafkaReader(buf, offset);
  const value = codecFor(schema, version).read(r);
  return value;
}

export function encode(schema: MessageSchema, version: number, value: Struct): Buffer {
  const w = new KafkaWriter();
  codecFor(schema, version).write(w, value);
  return w.toBuffer();
}
