/**
 * Core address names: dot-separated words (`sensors.room1.temp`). Patterns add `*` (exactly one
 * word) and `#` (zero or more words). Names beginning with `$` are reserved for the broker and
 * are not matched by a pattern whose first word is a wildcard.
 */

export const MAX_NAME_LENGTH = 65535;
export const MAX_WORDS = 100;

export class InvalidNameError extends Error {
  override readonly name = 'InvalidNameError';
}

/** Throws InvalidNameError unless `name` is a valid topic name to publish to (no wildcards). */
export function checkTopicName(name: string): void {
  if (name.length === 0) throw new InvalidNameError('topic name is empty');
  if (name.length > MAX_NAME_LENGTH) throw new InvalidNameError('topic name is too long');
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2a || c === 0x23) throw new InvalidNameError(`topic name "${name}" contains a wildcard`);
    if (c === 0) throw new InvalidNameError('topic name contains NUL');
  }
}

/** Throws InvalidNameError unless `pattern` is a valid topic pattern. */
export function checkTopicPattern(pattern: string): void {
  if (pattern.length === 0) throw new InvalidNameError('topic pattern is empty');
  if (pattern.length > MAX_NAME_LENGTH) throw new InvalidNameError('topic pattern is too long');
  const words = pattern.split('.');
  if (words.length > MAX_WORDS) throw new InvalidNameError(`topic pattern has more than ${MAX_WORDS} words`);
  for (const w of words) {
    if ((w.includes('*') || w.includes('#')) && w.length !== 1) {
      throw new InvalidNameError(`wildcard must be a whole word in "${pattern}"`);
    }
    if (w.includes('\0')) throw new InvalidNameError('topic pattern contains NUL');
  }
}

/** True when `topic` matches `pattern` under the core rules (used outside the router, e.g. per-session checks). */
export function topicMatches(pattern: string, topic: string): boolean {
  if (topic.startsWith('$') && (pattern.startsWith('*') || pattern.startsWith('#'))) return false;
  return matchWords(pattern.split('.'), 0, topic.split('.'), 0);
}

function matchWords(p: string[], pi: number, t: string[], ti: number): boolean {
  for (; pi < p.length; pi++, ti++) {
    const w = p[pi];
    if (w === '#') {
      if (pi === p.length - 1) return true;
      for (let k = ti; k <= t.length; k++) if (matchWords(p, pi + 1, t, k)) return true;
      return false;
    }
    if (ti >= t.length) return false;
    if (w !== '*' && w !== t[ti]) return false;
  }
  return ti === t.length;
}
