/**
 * Authorisation rules over core addresses: dot-separated words where a rule's `*` is exactly one
 * word and `#` zero or more. A subscription that is itself a pattern is allowed only when the
 * rule covers every name the subscription could match (`sensors.#` covers `sensors.*.temp`, not
 * the other way round). As in core routing, a name starting with `$` is not matched by a rule
 * whose first word is a wildcard.
 */
import type { AuthAction, AuthRule } from '../../config/schema.js';

export interface PrincipalLike {
  user: string;
  anonymous: boolean;
}

export const ANONYMOUS_USER = 'anonymous';

/** True when every address matched by `address` (a name or a pattern) is matched by `rule`. */
export function covers(rule: string, address: string): boolean {
  const r = rule.split('.');
  const a = address.split('.');
  if (address.startsWith('$') && (r[0] === '*' || r[0] === '#')) return false;
  return coverWords(r, 0, a, 0);
}

function coverWords(r: string[], ri: number, a: string[], ai: number): boolean {
  for (; ri < r.length; ri++, ai++) {
    const w = r[ri];
    if (w === '#') {
      if (ri === r.length - 1) return true;
      for (let k = ai; k <= a.length; k++) if (coverWords(r, ri + 1, a, k)) return true;
      return false;
    }
    if (ai >= a.length) return false;
    const x = a[ai];
    if (x === '#') return false; // only a rule '#' covers a subscription's '#'
    if (w === '*') continue; // covers a literal word or a subscription's '*'
    if (x === '*' || w !== x) return false;
  }
  return ai === a.length;
}

function listOf(v: string | string[]): string[] {
  return Array.isArray(v) ? v : [v];
}

function userMatches(rule: AuthRule, p: PrincipalLike, namedOnly: boolean): boolean {
  for (const u of listOf(rule.user)) {
    if (u === '*') {
      if (namedOnly) continue;
      return true;
    }
    if (p.anonymous ? u === ANONYMOUS_USER : u === p.user) return true;
  }
  return false;
}

const UNSAFE_IN_PATTERN = /[.*#\s]/;

function addressMatches(rule: AuthRule, p: PrincipalLike, address: string): boolean {
  const name = p.anonymous ? ANONYMOUS_USER : p.user;
  for (const pattern of listOf(rule.address)) {
    if (pattern.includes('{user}')) {
      if (UNSAFE_IN_PATTERN.test(name)) continue; // a user name must not widen the pattern
      if (covers(pattern.replaceAll('{user}', name), address)) return true;
    } else if (covers(pattern, address)) {
      return true;
    }
  }
  return false;
}

/**
 * Ordered rules: the first whose user and address match and which lists the action decides; no
 * rules allow everything (the auth plugin's authorise() treats the `admin` action apart).
 * `namedOnly`: only rules that name the user apply (`*` rules are skipped).
 */
export function evaluateRules(rules: AuthRule[], p: PrincipalLike, action: AuthAction, address: string, namedOnly = false): boolean {
  if (rules.length === 0) return true;
  for (const rule of rules) {
    if (!userMatches(rule, p, namedOnly) || !addressMatches(rule, p, address)) continue;
    if (rule.deny?.includes(action)) return false;
    if (rule.allow?.includes(action)) return true;
  }
  return false;
}
