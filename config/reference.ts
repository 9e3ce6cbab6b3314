/**
 * The configuration reference, read off the schema: every key with its default, what is allowed
 * and its description. `npm run config-reference` writes the adapters' tables into
 * docs/configuration.md (between `<!-- keys: <section> -->` and `<!-- /keys -->`);
 * test/platform/config-schema.test.ts fails when the doc, or config/default.yaml, and the schema
 * disagree.
 */
import { listenerTlsSchema } from './sections/common.js';
import { hintOf } from './validate.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Schema = any;

export interface KeyInfo {
  /** Dotted path inside the section it was listed from (`pubsub.maxItems`). */
  key: string;
  schema: Schema;
}

/**
 * The keys a user sets: object-valued keys are opened up (xmpp.pubsub.maxItems), except a
 * listener's `tls:`, which is one key overriding the global tls section.
 */
export function schemaKeys(schema: Schema, prefix = ''): KeyInfo[] {
  const out: KeyInfo[] = [];
  for (const [name, s] of Object.entries<Schema>(schema.properties ?? {})) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (s.type === 'object' && s.properties && s !== listenerTlsSchema) out.push(...schemaKeys(s, key));
    else out.push({ key, schema: s });
  }
  return out;
}

function shown(value: unknown): string {
  if (value === undefined) return '';
  return '`' + (typeof value === 'string' ? value || '""' : JSON.stringify(value)) + '`';
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/</g, '\\<');

/** The markdown table of one section's keys (the generated part of docs/configuration.md). */
export function markdownTable(sectionName: string, section: Schema): string {
  const rows = schemaKeys(section).map(({ key, schema }) => {
    const allowed = hintOf(schema);
    const meaning = [schema.description, allowed ? `allowed: ${allowed}` : ''].filter(Boolean).join('; ');
    return `| \`${sectionName}.${key}\` | ${cell(shown(schema.default))} | ${cell(meaning)} |`;
  });
  return ['| key | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

const BLOCK = /(<!-- keys: ([\w-]+) -->)[\s\S]*?(<!-- \/keys -->)/g;

/** The document with every generated block rewritten from the schema. */
export function withGeneratedTables(doc: string, root: Schema): string {
  return doc.replace(BLOCK, (_all, open: string, name: string, close: string) => {
    const section = root.properties?.[name];
    if (!section) throw new Error(`docs: <!-- keys: ${name} --> names no configuration section`);
    return `${open}\n${markdownTable(name, section)}\n${close}`;
  });
}

/** A section as YAML with every default and its description as a comment (for config/default.yaml). */
export function yamlSection(sectionName: string, section: Schema): string {
  const lines = [`${sectionName}:`];
  const walk = (s: Schema, indent: string) => {
    for (const [name, p] of Object.entries<Schema>(s.properties ?? {})) {
      if (p.type === 'object' && p.properties && p !== listenerTlsSchema) {
        lines.push(`${indent}# ${p.description ?? ''}`.trimEnd(), `${indent}${name}:`);
        walk(p, indent + '  ');
      } else {
        const value = p.default === '' ? '""' : JSON.stringify(p.default);
        lines.push(`${indent}${name}: ${value}  # ${p.description ?? ''}`.trimEnd());
      }
    }
  };
  walk(section, '  ');
  return lines.join('\n');
}
