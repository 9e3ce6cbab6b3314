declare module 'qlobber' {
  interface QlobberOptions {
    separator?: string;
    wildcard_one?: string;
    wildcard_some?: string;
    max_words?: number;
    max_wildcard_somes?: number;
    cache_adds?: boolean | Map<string, unknown>;
    cache_splits?: number;
    match_empty_levels?: boolean;
  }
  export class QlobberDedup<V = unknown> {
    constructor(options?: QlobberOptions);
    add(topic: string, value: V): this;
    remove(topic: string, value?: V): this;
    match(topic: string): Set<V>;
    test(topic: string, value: V): boolean;
    clear(): this;
  }
}
