/** Reading and naming keys in a configuration object (no schema knowledge, so any module may use it). */

export function getPath(obj: unknown, path: string[]): unknown {
  let o = obj;
  for (const k of path) {
    if (typeof o !== 'object' || o === null) return undefined;
    o = (o as Record<string, unknown>)[k];
  }
  return o;
}

/** Renders a path the way error messages name keys: `auth.rules[0].user`. */
export function keyName(path: (string | number)[]): string {
  let out = '';
  for (const k of path) out += /^\d+$/.test(String(k)) ? `[${k}]` : out ? `.${k}` : String(k);
  return out;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Schema = any;

/** Schema of the key at `path` under `root`, or undefined where the schema does not list the key. */
export function schemaAt(root: Schema, path: string[]): Schema | undefined {
  let s: Schema = root;
  for (const k of path) {
    if (!s) return undefined;
    if (s.type === 'array' || (Array.isArray(s.type) && s.type.includes('array') && /^\d+$/.test(k))) {
      s = s.items;
    } else {
      s = s.properties?.[k];
    }
  }
  return s;
}
