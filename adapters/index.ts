/**
 * The adapter registry: one entry per protocol, loaded with a dynamic import so a protocol whose
 * module does not exist (yet) is simply absent. An adapter module `adapters/<name>/index.ts`
 * exports `createAdapter(): ProtocolAdapter` (or a default export doing the same).
 * Start order is the order of this list.
 */
import { fileURLToPath } from 'node:url';
import type { ProtocolAdapter } from '../core/adapter.js';

export const ADAPTER_NAMES = ['mqtt', 'amqp', 'stomp', 'xmpp', 'kafka'] as const;
export type AdapterName = (typeof ADAPTER_NAMES)[number];

type Factory = () => ProtocolAdapter;

function pickFactory(mod: Record<string, unknown>): Factory | undefined {
  const candidates = [mod.createAdapter, mod.default, ...Object.entries(mod).filter(([k]) => /^create\w*Adapter$/.test(k)).map(([, v]) => v)];
  const f = candidates.find((c) => typeof c === 'function') as (new () => ProtocolAdapter) | Factory | undefined;
  if (!f) return undefined;
  // A class with start() on its prototype is constructed; a plain function is called.
  return typeof (f as { prototype?: { start?: unknown } }).prototype?.start === 'function'
    ? () => new (f as new () => ProtocolAdapter)()
    : (f as Factory);
}

async function load(name: AdapterName): Promise<ProtocolAdapter | null> {
  const url = new URL(`./${name}/index.js`, import.meta.url);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url.href)) as Record<string, unknown>;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { url?: string };
    // Only the adapter's own module missing means "absent"; a missing dependency inside it is an error.
    if (err.code === 'ERR_MODULE_NOT_FOUND' && (err.url === url.href || err.message.includes(`'${fileURLToPath(url)}'`))) return null;
    throw e;
  }
  const factory = pickFactory(mod);
  if (!factory) throw new Error(`adapters/${name}/index.js exports no createAdapter()`);
  return factory();
}

/** Per protocol: a new adapter instance, or null when that adapter's module does not exist. */
export const adapterFactories: Record<AdapterName, () => Promise<ProtocolAdapter | null>> = Object.fromEntries(
  ADAPTER_NAMES.map((n) => [n, () => load(n)]),
) as Record<AdapterName, () => Promise<ProtocolAdapter | null>>;

/** Every adapter that exists, in start order (optionally only those named). */
export async function loadAdapters(only?: readonly string[]): Promise<ProtocolAdapter[]> {
  const out: ProtocolAdapter[] = [];
  for (const n of ADAPTER_NAMES) {
    if (only && !only.includes(n)) continue;
    const a = await adapterFactories[n]();
    if (a) out.push(a);
  }
  return out;
}
