/**
 * Schema-driven key paths: turning `JUNCTION_STORAGE_FSYNC` or `--set storage.fsync=x` into a
 * path, and text from the environment or the command line into a value of the type the schema
 * asks for (so that validation reports the key with the value as given).
 */
import { parse as parseYaml } from 'yaml';
import { getPath, keyName, schemaAt as schemaAtRoot } from './keys.js';
import { isPortSchema } from './sections/common.js';
import { configSchema } from './schema.js';

export { getPath, keyName };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Schema = any;

/** Schema of the key at `path`, or undefined where the schema does not list the key. */
export function schemaAt(path: string[]): Schema | undefined {
  return schemaAtRoot(configSchema, path);
}

function allowsAdditional(s: Schema): boolean {
  return !!s && s.type === 'object' && s.additionalProperties !== false;
}

const camel = (words: string[]) => words.map((w, i) => (i === 0 ? w : w[0].toUpperCase() + w.slice(1))).join('');

/**
 * Resolves the words of an environment variable (after `JUNCTION_`) to a key path. A single `_`
 * separates words of one key or of nested keys (resolved against the schema: STORAGE_FSYNC ->
 * storage.fsync, DATA_DIR -> dataDir); `__` always separates nesting levels (KAFKA__ADVERTISED_HOST
 * -> kafka.advertisedHost), which is how keys the schema does not list yet are reached.
 */
export function envNameToPath(name: string): string[] | null {
  const segments = name.toLowerCase().split('__').map((seg) => seg.split('_').filter((w) => w.length > 0));
  if (segments.some((seg) => seg.length === 0)) return null;
  return resolveSegments(configSchema, segments, 0, []);
}

function resolveSegments(s: Schema, segs: string[][], si: number, acc: string[]): string[] | null {
  if (si === segs.length) return acc;
  return resolveWords(s, segs, si, segs[si], acc);
}

function resolveWords(s: Schema, segs: string[][], si: number, words: string[], acc: string[]): string[] | null {
  const props: Record<string, Schema> = s?.properties ?? {};
  for (let k = words.length; k >= 1; k--) {
    const joined = words.slice(0, k).join('');
    const key = Object.keys(props).find((p) => p.toLowerCase() === joined);
    if (!key) continue;
    const rest = words.slice(k);
    const found = rest.length === 0
      ? resolveSegments(props[key], segs, si + 1, [...acc, key])
      : resolveWords(props[key], segs, si, rest, [...acc, key]);
    if (found) return found;
  }
  if (allowsAdditional(s)) {
    // A key the schema does not list: the whole segment is one camelCase key.
    const key = camel(words);
    if (si === segs.length - 1) return [...acc, key];
    return [...acc, key, ...segs.slice(si + 1).map(camel)];
  }
  return null;
}

/** Converts flag/environment text to the type the schema asks for at `path`. */
export function coerce(text: string, path: string[]): unknown {
  const s = schemaAt(path);
  if (isPortSchema(s) && text.trim().toLowerCase() === 'auto') return -1;
  if (!s) return parseScalar(text);
  const types: string[] = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  const t = text.trim();
  if (types.includes('null') && (t === '' || t === 'null' || t === '~')) return null;
  if ((types.includes('integer') || types.includes('number')) && /^-?\d+(\.\d+)?(e\d+)?$/i.test(t)) return Number(t);
  if (types.includes('boolean')) {
    if (/^(true|yes|on|1)$/i.test(t)) return true;
    if (/^(false|no|off|0)$/i.test(t)) return false;
  }
  if (s.enum) {
    const hit = (s.enum as unknown[]).find((e) => String(e) === t);
    if (hit !== undefined) return hit;
  }
  if (types.includes('array') || types.includes('object')) {
    if (t.startsWith('[') || t.startsWith('{')) return parseScalar(t);
    if (types.includes('array') && !types.includes('string')) return t === '' ? [] : t.split(',').map((x) => x.trim());
  }
  return text;
}

function parseScalar(text: string): unknown {
  try {
    return parseYaml(text);
  } catch {
    return text;
  }
}

/** Sets `value` at `path` inside `obj`, creating objects on the way. */
export function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let o = obj;
  for (const k of path.slice(0, -1)) {
    if (typeof o[k] !== 'object' || o[k] === null || Array.isArray(o[k])) o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[path[path.length - 1]] = value;
}
