/**
 * Loads the configuration: config file < JUNCTION_* environment < command-line flags <
 * programmatic overrides, then validates it against the JSON Schema (config/validate.ts), which
 * also fills in every default (the schema's; config/default.yaml lists the same values). Any
 * problem is a ConfigError whose message is one line naming the key: `<key>: <what is wrong>`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.js';
import { parseFlags } from './flags.js';
import { getPath } from './keys.js';
import { coerce, envNameToPath, setPath } from './paths.js';
import { configSchema, PROTOCOL_SECTIONS, type JunctionConfig } from './schema.js';
import { isPortSchema } from './sections/common.js';
import { schemaDefaults, validateConfig } from './validate.js';

export { ConfigError } from './errors.js';
export type { JunctionConfig } from './schema.js';

export type DeepPartial<T> = T extends unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

export interface LoadOptions {
  /** `junction start` flags (without the `start` word). */
  argv?: string[];
  /** Environment to read JUNCTION_* from. Default: none (the CLI passes process.env). */
  env?: Record<string, string | undefined>;
  /** Configuration file (YAML or JSON); `--config` in argv and JUNCTION_CONFIG take precedence. */
  file?: string;
  /** Highest-precedence values (the library API's options). */
  overrides?: DeepPartial<JunctionConfig> | Record<string, unknown>;
  /**
   * JSON Schemas of further top-level sections (an adapter's `settingsSchema` that the platform
   * does not know: embedding, tests), validated with the rest.
   */
  sections?: Record<string, object>;
}

const ENV_PREFIX = 'JUNCTION_';

/** Where config/default.yaml lives, from the source tree or from dist/config/. */
export function defaultConfigPath(): string {
  const candidates = [new URL('./default.yaml', import.meta.url), new URL('../../config/default.yaml', import.meta.url)];
  for (const c of candidates) if (existsSync(c)) return fileURLToPath(c);
  throw new ConfigError('config/default.yaml not found next to the program');
}

/** Every default: the configuration with nothing configured (the values config/default.yaml lists). */
export function loadDefaults(): Record<string, unknown> {
  return schemaDefaults(configSchema);
}

const extendedSchemas = new Map<string, object>();

/** The configuration's schema with further sections (cached, so each combination is compiled once). */
function schemaWith(sections: Record<string, object> | undefined): object {
  const names = Object.keys(sections ?? {}).filter((n) => !(n in configSchema.properties));
  if (names.length === 0) return configSchema;
  const id = names.sort().map((n) => `${n}:${JSON.stringify(sections![n])}`).join('|');
  let schema = extendedSchemas.get(id);
  if (!schema) {
    const properties: Record<string, object> = { ...configSchema.properties };
    for (const n of names) properties[n] = { default: {}, ...sections![n] };
    schema = { ...configSchema, properties };
    extendedSchemas.set(id, schema);
  }
  return schema;
}

export function loadConfig(options: LoadOptions = {}): JunctionConfig {
  const env = options.env ?? {};
  const flags = parseFlags(options.argv ?? []);
  const fileName = flags.configFile ?? env[`${ENV_PREFIX}CONFIG`] ?? options.file;
  const fileLayer = fileName ? readConfigFile(fileName) : {};
  const envLayer = readEnv(env);
  const overrides = (options.overrides ?? {}) as Record<string, unknown>;

  const layers = [fileLayer, envLayer, flags.layer, overrides].map(streamsShorthand);
  const schema = schemaWith(options.sections);
  let merged: Record<string, unknown> = {};
  for (const layer of layers) merged = deepMerge(merged, layer);
  normalisePorts(merged, schema);

  validateConfig(schema, merged);
  const config = merged as unknown as JunctionConfig;
  // Users configured: anonymous access ends unless a layer above the defaults asks for it.
  const anonymousExplicit = layers.some((l) => getPath(l, ['auth', 'allowAnonymous']) !== undefined);
  if (config.auth.usersFile && !anonymousExplicit) config.auth.allowAnonymous = false;
  checkRules(config);
  checkPorts(config);
  return config;
}

/** `streams: [ {name, patterns, partitions} ]` is short for `streams: { declare: [...] }`. */
function streamsShorthand(layer: Record<string, unknown>): Record<string, unknown> {
  return Array.isArray(layer.streams) ? { ...layer, streams: { declare: layer.streams } } : layer;
}

function readConfigFile(name: string): Record<string, unknown> {
  const path = resolve(name);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let data: unknown;
  try {
    data = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    throw new ConfigError(`config file ${path} is not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${msg}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(`config file ${path} must hold a mapping of keys (got ${Array.isArray(data) ? 'a list' : typeof data})`);
  }
  return data as Record<string, unknown>;
}

function readEnv(env: Record<string, string | undefined>): Record<string, unknown> {
  const layer: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined || name === `${ENV_PREFIX}CONFIG`) continue;
    const path = envNameToPath(name.slice(ENV_PREFIX.length));
    if (!path) throw new ConfigError(`environment variable ${name} names no configuration key (nested keys use __, e.g. JUNCTION_KAFKA__ADVERTISED_HOST)`);
    setPath(layer, path, coerce(value, path));
  }
  return layer;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/**
 * Objects merge key by key; everything else (lists, scalars, null) replaces. Undefined is skipped.
 * Objects are copied, so filling in defaults never writes into a caller's options.
 */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = isPlainObject(v) ? deepMerge(isPlainObject(out[k]) ? (out[k] as Record<string, unknown>) : {}, v) : v;
  }
  return out;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function normalisePorts(obj: Record<string, unknown>, schema: any): void {
  for (const [k, v] of Object.entries(obj)) {
    const s = schema?.properties?.[k];
    if (isPortSchema(s) && typeof v === 'string' && v.toLowerCase() === 'auto') obj[k] = -1;
    else if (isPlainObject(v) && s?.type === 'object') normalisePorts(v, s);
  }
}

const WILDCARD_WORD = /^(\*|#|[^*#]+)$/;

function checkRules(config: JunctionConfig): void {
  config.auth.rules.forEach((rule, i) => {
    const key = `auth.rules[${i}]`;
    if (!rule.allow && !rule.deny) throw new ConfigError(`${key}: must have "allow" or "deny" (a list of actions)`, key);
    for (const address of Array.isArray(rule.address) ? rule.address : [rule.address]) {
      if (!address.split('.').every((w) => WILDCARD_WORD.test(w))) {
        throw new ConfigError(`${key}.address: must be dot-separated words where * and # are whole words (got ${JSON.stringify(address)})`, `${key}.address`);
      }
    }
  });
}

/** Two enabled listeners on one fixed port would fail at bind time with a vaguer message. */
function checkPorts(config: JunctionConfig): void {
  const seen = new Map<number, string>();
  const add = (port: unknown, key: string) => {
    if (typeof port !== 'number' || port <= 0) return;
    const other = seen.get(port);
    if (other) throw new ConfigError(`${key}: ${port} is also ${other}; give each listener its own port`, key);
    seen.set(port, key);
  };
  add(config.http.port, 'http.port');
  for (const p of PROTOCOL_SECTIONS) {
    const section = config[p] as { port: number; tlsPort?: number; tls?: { cert?: string | null } };
    add(section.port, `${p}.port`);
    const cert = section.tls?.cert !== undefined ? section.tls.cert : config.tls.cert;
    if (cert) add(section.tlsPort, `${p}.tlsPort`);
  }
}

/** The port to pass to listen(): null when the listener is disabled (0), 0 for ephemeral (-1). */
export function bindPort(port: number | string | undefined | null): number | null {
  if (port === undefined || port === null || port === 0) return null;
  if (port === -1 || port === 'auto') return 0;
  return Number(port);
}
