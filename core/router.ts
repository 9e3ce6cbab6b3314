/**
 * The address space: bindings of queues and streams to topic patterns, matched with qlobber
 * (`.` separator, `*` one word, `#` zero or more). Match results are cached per topic name and the
 * cache is dropped on every binding change, so steady publishing to a fixed set of topics costs
 * one Map lookup per message.
 */
import { QlobberDedup } from 'qlobber';
import { checkTopicPattern, MAX_WORDS } from './names.js';

export interface Binding<T> {
  pattern: string;
  target: T;
  /** Skip messages published by this connection (MQTT 5 no-local). */
  noLocalOwner?: string;
  /** Adapter-defined data carried with the binding (e.g. MQTT subscription options). */
  args?: Record<string, unknown>;
}

const MAX_CACHED_TOPICS = 50_000;

export class TopicRouter<T> {
  // match_empty_levels: `*` matches an empty word too (MQTT `+` matches `a//b`), as topicMatches() does.
  private readonly trie = new QlobberDedup<Binding<T>>({ separator: '.', wildcard_one: '*', wildcard_some: '#', max_words: MAX_WORDS, max_wildcard_somes: MAX_WORDS, match_empty_levels: true });
  private readonly byKey = new Map<string, Binding<T>>();
  private cache = new Map<string, Binding<T>[]>();

  get size(): number {
    return this.byKey.size;
  }

  /** Bindings whose target key starts with `prefix`. */
  countKeys(prefix: string): number {
    let n = 0;
    for (const id of this.byKey.keys()) if (id.startsWith(prefix)) n++;
    return n;
  }

  /** Adds or replaces the binding of `target` to `pattern`. `key` identifies the target. */
  bind(key: string, binding: Binding<T>): void {
    checkTopicPattern(binding.pattern);
    const id = `${key}\u0000${binding.pattern}`;
    const old = this.byKey.get(id);
    if (old) this.trie.remove(old.pattern, old);
    this.byKey.set(id, binding);
    this.trie.add(binding.pattern, binding);
    this.cache.clear();
  }

  unbind(key: string, pattern: string): boolean {
    const id = `${key}\u0000${pattern}`;
    const old = this.byKey.get(id);
    if (!old) return false;
    this.byKey.delete(id);
    this.trie.remove(old.pattern, old);
    this.cache.clear();
    return true;
  }

  /** Removes every binding of `key`. */
  unbindAll(key: string): void {
    const prefix = `${key}\u0000`;
    for (const [id, b] of this.byKey) {
      if (id.startsWith(prefix)) {
        this.byKey.delete(id);
        this.trie.remove(b.pattern, b);
      }
    }
    this.cache.clear();
  }

  bindingsOf(key: string): Binding<T>[] {
    const prefix = `${key}\u0000`;
    const out: Binding<T>[] = [];
    for (const [id, b] of this.byKey) if (id.startsWith(prefix)) out.push(b);
    return out;
  }

  /** The distinct patterns bound to targets that `keep` accepts. */
  patterns(keep: (target: T) => boolean): string[] {
    const out = new Set<string>();
    for (const b of this.byKey.values()) if (keep(b.target)) out.add(b.pattern);
    return [...out];
  }

  /** Every binding whose pattern matches `topic`. `$`-topics are not matched by a leading wildcard. */
  match(topic: string): Binding<T>[] {
    let hit = this.cache.get(topic);
    if (hit) return hit;
    hit = [...this.trie.match(topic)];
    if (topic.charCodeAt(0) === 0x24 /* $ */) {
      hit = hit.filter((b) => b.pattern.charCodeAt(0) !== 0x2a && b.pattern.charCodeAt(0) !== 0x23);
    }
    if (this.cache.size >= MAX_CACHED_TOPICS) this.cache.clear();
    this.cache.set(topic, hit);
    return hit;
  }
}
