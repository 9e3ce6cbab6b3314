/**
 * The adapters' layout rules (docs/architecture.md): no runtime import cycle under adapters/
 * (handlers depend on a narrow context interface, imported as a type), and no source file there
 * much above 500 lines. Reads the TypeScript sources next to the compiled tests.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const MAX_LINES = 530;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const IMPORT = /^(?:import|export)\s+(type\s+)?(\{[^}]*\}|\*\s+as\s+\w+|\*|[\w$]+(?:\s*,\s*\{[^}]*\})?)\s+from\s+['"]([^'"]+)['"]/gms;

/** Relative imports that exist at run time (not `import type`, not `{ type A, type B }`). */
function valueImports(file: string, known: Set<string>): string[] {
  const out: string[] = [];
  for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
    if (m[1]) continue;
    const spec = m[2];
    if (spec.startsWith('{')) {
      const names = spec.slice(1, -1).split(',').map((n) => n.trim()).filter(Boolean);
      if (names.length > 0 && names.every((n) => n.startsWith('type '))) continue;
    }
    if (!m[3].startsWith('.')) continue;
    const target = normalize(join(dirname(file), m[3].replace(/\.js$/, '.ts')));
    if (known.has(target)) out.push(target);
  }
  return out;
}

describe('adapter layout', () => {
  const files = sources(join(root, 'adapters'));

  it('has no runtime import cycle under adapters/', () => {
    const known = new Set(files);
    const graph = new Map(files.map((f) => [f, valueImports(f, known)]));
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]): void => {
      state.set(f, 'visiting');
      for (const d of graph.get(f) ?? []) {
        if (state.get(d) === 'visiting') cycles.push([...path.slice(path.indexOf(d)), d].map((p) => relative(root, p)).join(' -> '));
        else if (!state.has(d)) visit(d, [...path, d]);
      }
      state.set(f, 'done');
    };
    for (const f of files) if (!state.has(f)) visit(f, [f]);
    assert.deepEqual(cycles, []);
  });

  it(`has no source file above ${MAX_LINES} lines under adapters/`, () => {
    const long = files
      .map((f) => ({ file: relative(root, f), lines: readFileSync(f, 'utf8').split('\n').length }))
      .filter((x) => x.lines > MAX_LINES);
    assert.deepEqual(long, []);
  });
});
