/**
 * The one validator of the configuration: a single ajv instance checks the whole configuration
 * (config/schema.ts, which includes every adapter's section) and fills in the schema's defaults.
 * Every failure is a ConfigError with one line in one format: `<key>: <what is wrong>`.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ConfigError } from './errors.js';
import { getPath, keyName, schemaAt } from './keys.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Schema = any;

// Validation runs once per start: compile time matters more than validation speed (optimize: false).
const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true, useDefaults: true, $data: true, code: { optimize: false } });
// `x-hint`: what is allowed, for the error line (else derived from the schema by hintOf()).
ajv.addVocabulary(['x-hint']);

const compiled = new WeakMap<object, ValidateFunction>();
/** Sections of a configuration validated as a whole (so an adapter's sectionSettings() need not compile its own). */
const checkedSections = new WeakSet<object>();

function validatorFor(schema: object): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    // A section's own `default` applies where it sits in the whole schema, not at a root.
    const { default: _unused, ...root } = schema as { default?: unknown };
    v = ajv.compile(root);
    compiled.set(schema, v);
  }
  return v;
}

/**
 * Validates `data` against `schema` in place, filling in defaults. `prefix` is where `data` sits in
 * the whole configuration (`['mqtt']` for an adapter's section). Throws a ConfigError naming the key.
 */
export function validateConfig(schema: object, data: unknown, prefix: string[] = []): void {
  const v = validatorFor(schema);
  if (!v(data)) throw toConfigError(v.errors![0], schema, data, prefix);
  if (prefix.length === 0 && typeof data === 'object' && data !== null) {
    for (const section of Object.values(data)) if (typeof section === 'object' && section !== null) checkedSections.add(section);
  }
}

/**
 * An adapter's settings: its section validated and completed with the schema's defaults (a copy;
 * under startBroker the section was validated with the whole configuration, so this only copies it).
 * An adapter assembled by hand (tests) may pass a partial section or none.
 */
export function sectionSettings<T>(schema: object, name: string, section: unknown): T {
  const data = section === undefined || section === null ? {} : structuredClone(section);
  if (!(typeof section === 'object' && section !== null && checkedSections.has(section))) validateConfig(schema, data, [name]);
  return data as T;
}

/** Every default of an object schema, as a value (what validating an empty object gives). */
export function schemaDefaults<T>(schema: object): T {
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries<Schema>((schema as Schema).properties ?? {})) {
    if (s.default === undefined) continue;
    out[name] = s.type === 'object' && s.properties ? { ...(structuredClone(s.default) as object), ...schemaDefaults<object>(s) } : structuredClone(s.default);
  }
  return out as T;
}

function toConfigError(err: ErrorObject, root: Schema, data: unknown, prefix: string[]): ConfigError {
  const path = err.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const key = keyName([...prefix, ...path]);
  // The schema object the failing keyword sits in (additionalProperties: the object's own schema).
  const parent = (err.parentSchema as Schema) ?? schemaAt(root, path);
  if (err.keyword === 'additionalProperties') {
    const extra = (err.params as { additionalProperty: string }).additionalProperty;
    const full = keyName([...prefix, ...path, extra]);
    const allowed = Object.keys(parent?.properties ?? {}).join(', ');
    return new ConfigError(`${full}: unknown key${allowed ? ` (allowed in ${key || 'the top level'}: ${allowed})` : ''}`, full);
  }
  if (err.keyword === 'required') {
    const missing = keyName([...prefix, ...path, (err.params as { missingProperty: string }).missingProperty]);
    return new ConfigError(`${missing}: is required`, missing);
  }
  // The key's own schema says best what is allowed (an error may come from inside an anyOf branch).
  const own = schemaAt(root, path);
  const hint = own?.['x-hint'] ?? parent?.['x-hint'] ?? hintOf(own ?? parent) ?? err.message ?? 'valid';
  const shown = hint.startsWith('must ') ? hint : `must be ${hint}`;
  return new ConfigError(`${key}: ${shown} (got ${JSON.stringify(getPath(data, path)) ?? 'undefined'})`, key);
}

/** "What is allowed" from the schema's own keywords, for keys without an `x-hint`. */
export function hintOf(s: Schema): string | undefined {
  if (!s) return undefined;
  if (s['x-hint']) return s['x-hint'];
  if (s.enum) return `one of ${s.enum.map(String).join(', ')}`;
  const types: string[] = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  const nullable = types.includes('null');
  const t = types.filter((x) => x !== 'null');
  let base: string | undefined;
  if (t.length === 1 && (t[0] === 'integer' || t[0] === 'number')) {
    const what = t[0] === 'integer' ? 'an integer' : 'a number';
    const min = typeof s.minimum === 'number' ? s.minimum : undefined;
    const max = typeof s.maximum === 'number' ? s.maximum : undefined;
    base = min !== undefined && max !== undefined ? `${what} from ${min} to ${max}` : min !== undefined ? `${what} >= ${min}` : max !== undefined ? `${what} <= ${max}` : what;
  } else if (t.length === 1 && t[0] === 'boolean') {
    base = 'true or false';
  } else if (t.length === 1 && t[0] === 'string') {
    base = s.pattern ? `a string matching ${s.pattern}` : s.minLength ? 'a non-empty string' : 'a string';
  } else if (t.length === 1 && t[0] === 'array') {
    const item = hintOf(s.items);
    base = `a list${s.minItems ? ' (at least one item)' : ''}${item ? ` whose items are ${item}` : ''}`;
  } else if (t.length === 1 && t[0] === 'object') {
    base = 'a mapping of keys';
  }
  if (!base) return undefined;
  return nullable ? `${base}, or null` : base;
}
