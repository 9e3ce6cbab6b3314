/**
 * MQTT topic names and filters <-> core names and patterns. MQTT `a/b/c` is core `a.b.c`; '/'
 * and '.' swap both ways so a topic containing dots round-trips (`v1.2/x` <-> `v1/2.x`).
 * Filters: `+` = core `*`, `#` = core `#`. `$share/<group>/<filter>` is a shared subscription.
 * A literal `*` has no core form (it is the core's one-word wildcard): such names are refused.
 */

/** Swaps '/' and '.' (its own inverse: MQTT -> core and core -> MQTT). */
export function swapSeparators(s: string): string {
  const slash = s.indexOf('/');
  const dot = s.indexOf('.');
  if (dot < 0) return slash < 0 ? s : s.replaceAll('/', '.');
  if (slash < 0) return s.replaceAll('.', '/');
  let out = '';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2f || c === 0x2e) {
      out += s.slice(from, i) + (c === 0x2f ? '.' : '/');
      from = i + 1;
    }
  }
  return out + s.slice(from);
}

export const mqttTopicToCore = swapSeparators;
export const coreTopicToMqtt = swapSeparators;

/** The core's limit on words in a name. */
export const MAX_LEVELS = 100;

export type TopicProblem = 'empty' | 'wildcard' | 'unsupported' | 'nul';

/** Checks a PUBLISH topic name (also will topics and response topics). Null when valid. */
export function checkPublishTopic(topic: string): TopicProblem | null {
  if (topic.length === 0) return 'empty';
  let levels = 1;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x2b || c === 0x23) return 'wildcard';
    if (c === 0x2a) return 'unsupported';
    if (c === 0) return 'nul';
    if (c === 0x2f) levels++;
  }
  return levels > MAX_LEVELS ? 'unsupported' : null;
}

export interface ParsedFilter {
  /** The filter as the client gave it (key of the subscription). */
  filter: string;
  /** The filter without the `$share/<group>/` prefix. */
  topicFilter: string;
  /** Core pattern of topicFilter. */
  pattern: string;
  /** Shared subscription group, if any. */
  group?: string;
}

export type FilterProblem = 'invalid' | 'unsupported';

/** Validates an MQTT topic filter; returns the parsed filter or a problem. */
export function parseFilter(filter: string): ParsedFilter | FilterProblem {
  let topicFilter = filter;
  let group: string | undefined;
  if (filter.startsWith('$share/')) {
    const slash = filter.indexOf('/', 7);
    if (slash < 0) return 'invalid';
    group = filter.slice(7, slash);
    topicFilter = filter.slice(slash + 1);
    if (group.length === 0 || /[+#/]/.test(group)) return 'invalid';
    if (group.includes('*') || group.includes('\u0000')) return 'unsupported';
  }
  if (topicFilter.length === 0) return 'invalid';
  const levels = topicFilter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    if (l === '#') {
      if (i !== levels.length - 1) return 'invalid';
    } else if (l !== '+') {
      if (l.includes('#') || l.includes('+')) return 'invalid';
      if (l.includes('*')) return 'unsupported';
      if (l.includes('\u0000')) return 'invalid';
    }
  }
  if (levels.length > MAX_LEVELS) return 'unsupported';
  let pattern = swapSeparators(topicFilter);
  if (pattern.includes('+')) pattern = pattern.split('.').map((w) => (w === '+' ? '*' : w)).join('.');
  return group === undefined ? { filter, topicFilter, pattern } : { filter, topicFilter, pattern, group };
}

/** Name of the core queue behind shared subscription `$share/<group>/<filter>`. */
export function sharedQueueName(group: string, pattern: string): string {
  return `mqtt.share.${group}.${pattern}`;
}

export const SESSION_QUEUE_PREFIX = 'mqtt.session.';
export const SHARED_QUEUE_PREFIX = 'mqtt.share.';

export function sessionQueueName(clientId: string): string {
  return SESSION_QUEUE_PREFIX + clientId;
}
