/**
 * `npm run config-reference`: rewrites the generated key tables of docs/configuration.md from the
 * configuration schema (config/reference.ts). test/platform/config-schema.test.ts fails while they
 * are stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withGeneratedTables } from '../config/reference.js';
import { configSchema } from '../config/schema.js';

const doc = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));
const before = readFileSync(doc, 'utf8');
const after = withGeneratedTables(before, configSchema);
if (after !== before) writeFileSync(doc, after);
process.stdout.write(after === before ? 'docs/configuration.md is up to date\n' : 'docs/configuration.md: key tables rewritten\n');
