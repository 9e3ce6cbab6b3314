/**
 * Kafka's console formats. Reading (kafka-console-producer's LineMessageReader): one record per
 * line, `parse.key`/`key.separator`, `parse.headers` with `headers.delimiter`, `headers.separator`,
 * `headers.key.separator`, and `null.marker`. Writing (kafka-console-consumer's
 * DefaultMessageFormatter): timestamp, partition, offset, headers, key, value, in that order,
 * each enabled by its `print.*` property and separated by `key.separator`.
 */
import { CliError, UsageError } from '../errors.js';

export interface LineRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

function unescape(s: string): string {
  return s.replace(/\\t/g, '\t').replace(/\\n/g, '\n').replace(/\\r/g, '\r');
}

function flag(props: Map<string, string>, name: string, dflt: boolean): boolean {
  const v = props.get(name);
  if (v === undefined) return dflt;
  if (!/^(true|false)$/i.test(v)) throw new UsageError(`--property ${name}: expected true or false, got "${v}"`);
  return v.toLowerCase() === 'true';
}

const READER_PROPS = new Set(['parse.key', 'key.separator', 'parse.headers', 'headers.delimiter', 'headers.separator', 'headers.key.separator', 'null.marker', 'ignore.error']);

export class LineReader {
  private readonly parseKey: boolean;
  private readonly keySeparator: string;
  private readonly parseHeaders: boolean;
  private readonly headersDelimiter: string;
  private readonly headersSeparator: string;
  private readonly headersKeySeparator: string;
  private readonly nullMarker: string | undefined;
  private readonly ignoreError: boolean;

  constructor(props: Map<string, string>) {
    for (const k of props.keys()) if (!READER_PROPS.has(k)) throw new UsageError(`--property ${k}: not a console-producer property (${[...READER_PROPS].join(', ')})`);
    this.parseKey = flag(props, 'parse.key', false);
    this.keySeparator = unescape(props.get('key.separator') ?? '\t');
    this.parseHeaders = flag(props, 'parse.headers', false);
    this.headersDelimiter = unescape(props.get('headers.delimiter') ?? '\t');
    this.headersSeparator = unescape(props.get('headers.separator') ?? ',');
    this.headersKeySeparator = unescape(props.get('headers.key.separator') ?? ':');
    this.nullMarker = props.get('null.marker');
    this.ignoreError = flag(props, 'ignore.error', false);
    if (!this.keySeparator) throw new UsageError('--property key.separator: must not be empty');
  }

  /** The record of line number `n` (1-based, for messages). */
  read(line: string, n: number): LineRecord {
    let rest = line;
    const headers: Record<string, string> = {};
    if (this.parseHeaders) {
      const at = rest.indexOf(this.headersDelimiter);
      if (at < 0) {
        if (!this.ignoreError) throw new CliError(`No headers delimiter found on line number ${n}: '${line}'`);
      } else {
        const text = rest.slice(0, at);
        rest = rest.slice(at + this.headersDelimiter.length);
        if (text !== this.nullMarker) {
          for (const h of text.split(this.headersSeparator).filter(Boolean)) {
            const k = h.indexOf(this.headersKeySeparator);
            if (k < 0) headers[h] = '';
            else headers[h.slice(0, k)] = h.slice(k + this.headersKeySeparator.length);
          }
        }
      }
    }
    let key: string | null = null;
    if (this.parseKey) {
      const at = rest.indexOf(this.keySeparator);
      if (at < 0) {
        if (!this.ignoreError) throw new CliError(`No key separator found on line number ${n}: '${line}'`);
      } else {
        key = rest.slice(0, at);
        rest = rest.slice(at + this.keySeparator.length);
      }
    }
    const buf = (s: string | null) => (s === null || s === this.nullMarker ? null : Buffer.from(s, 'utf8'));
    return { key: buf(key), value: buf(rest), headers };
  }
}

export interface ConsoleRecord {
  timestamp: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

type Deserializer = (b: Buffer) => string;

const DESERIALIZERS: Record<string, Deserializer> = {
  StringDeserializer: (b) => b.toString('utf8'),
  ByteArrayDeserializer: (b) => b.toString('utf8'),
  BytesDeserializer: (b) => b.toString('utf8'),
  LongDeserializer: (b) => (b.length === 8 ? b.readBigInt64BE(0).toString() : b.toString('hex')),
  IntegerDeserializer: (b) => (b.length === 4 ? String(b.readInt32BE(0)) : b.toString('hex')),
  ShortDeserializer: (b) => (b.length === 2 ? String(b.readInt16BE(0)) : b.toString('hex')),
  DoubleDeserializer: (b) => (b.length === 8 ? String(b.readDoubleBE(0)) : b.toString('hex')),
  FloatDeserializer: (b) => (b.length === 4 ? String(b.readFloatBE(0)) : b.toString('hex')),
  UUIDDeserializer: (b) => b.toString('utf8'),
};

/** A deserializer from its Java class name (`org.apache.kafka.common.serialization.LongDeserializer`) or short name. */
export function deserializer(name: string | undefined, flagName: string): Deserializer {
  if (!name) return DESERIALIZERS.StringDeserializer;
  const short = name.split('.').pop()!;
  const d = DESERIALIZERS[short];
  if (!d) throw new UsageError(`${flagName}: ${name} is not supported (${Object.keys(DESERIALIZERS).join(', ')})`);
  return d;
}

const FORMATTER_PROPS = new Set(['print.timestamp', 'print.key', 'print.offset', 'print.partition', 'print.headers', 'print.value', 'key.separator', 'line.separator', 'headers.separator', 'null.literal', 'key.deserializer', 'value.deserializer']);

export class RecordFormatter {
  private readonly printTimestamp: boolean;
  private readonly printKey: boolean;
  private readonly printOffset: boolean;
  private readonly printPartition: boolean;
  private readonly printHeaders: boolean;
  private readonly printValue: boolean;
  private readonly keySeparator: string;
  private readonly lineSeparator: string;
  private readonly headersSeparator: string;
  private readonly nullLiteral: string;
  private readonly keyDeserializer: Deserializer;
  private readonly valueDeserializer: Deserializer;

  constructor(props: Map<string, string>, keyDeserializer?: string, valueDeserializer?: string) {
    for (const k of props.keys()) if (!FORMATTER_PROPS.has(k)) throw new UsageError(`--property ${k}: not a console-consumer property (${[...FORMATTER_PROPS].join(', ')})`);
    this.printTimestamp = flag(props, 'print.timestamp', false);
    this.printKey = flag(props, 'print.key', false);
    this.printOffset = flag(props, 'print.offset', false);
    this.printPartition = flag(props, 'print.partition', false);
    this.printHeaders = flag(props, 'print.headers', false);
    this.printValue = flag(props, 'print.value', true);
    this.keySeparator = unescape(props.get('key.separator') ?? '\t');
    this.lineSeparator = unescape(props.get('line.separator') ?? '\n');
    this.headersSeparator = unescape(props.get('headers.separator') ?? ',');
    this.nullLiteral = props.get('null.literal') ?? 'null';
    this.keyDeserializer = deserializer(keyDeserializer ?? props.get('key.deserializer'), '--key-deserializer');
    this.valueDeserializer = deserializer(valueDeserializer ?? props.get('value.deserializer'), '--value-deserializer');
  }

  format(r: ConsoleRecord): string {
    const parts: string[] = [];
    if (this.printTimestamp) parts.push(`CreateTime:${r.timestamp}`);
    if (this.printPartition) parts.push(`Partition:${r.partition}`);
    if (this.printOffset) parts.push(`Offset:${r.offset}`);
    if (this.printHeaders) {
      const hs: string[] = [];
      for (const [k, v] of Object.entries(r.headers ?? {})) {
        for (const one of Array.isArray(v) ? v : [v]) hs.push(`${k}:${one === undefined ? this.nullLiteral : Buffer.isBuffer(one) ? one.toString('utf8') : one}`);
      }
      parts.push(hs.length ? hs.join(this.headersSeparator) : 'NO_HEADERS');
    }
    if (this.printKey) parts.push(r.key === null ? this.nullLiteral : this.keyDeserializer(r.key));
    if (this.printValue) parts.push(r.value === null ? this.nullLiteral : this.valueDeserializer(r.value));
    return parts.join(this.keySeparator) + (this.printValue || parts.length ? this.lineSeparator : '');
  }
}
