/**
 * JMS message selectors (the SQL-92 subset of JMS 2.0 §3.8, as ActiveMQ and Artemis take them),
 * compiled to a predicate over a core Message. A small hand-written recursive-descent parser: the
 * grammar is a dozen rules, and a hand parser bounds its own depth and input and names the position
 * of an error, with no dependency. The grammar, identifiers and type rules are in docs/queues.md.
 *
 *   or      := and (OR and)*
 *   and     := not (AND not)*
 *   not     := NOT not | compare
 *   compare := sum [ (= | <> | < | <= | > | >=) sum
 *                  | [NOT] BETWEEN sum AND sum | [NOT] IN '(' literal (',' literal)* ')'
 *                  | [NOT] LIKE string [ESCAPE string] | IS [NOT] NULL ]
 *   sum     := product ((+ | -) product)*
 *   product := unary ((* | /) unary)*
 *   unary   := (+ | -) unary | '(' or ')' | literal | identifier
 *
 * Evaluation is three-valued: a missing header is NULL (unknown), unknown propagates through
 * comparisons and arithmetic, and a message is selected only when the whole selector is TRUE.
 */
import type { HeaderValue, Message } from './message.js';

export type Selector = (message: Message) => boolean;

/** A selector that does not parse: `position` is the character offset of the problem. */
export class SelectorError extends Error {
  override readonly name = 'SelectorError';
  constructor(message: string, readonly position: number) {
    super(`${message} at position ${position}`);
  }
}

export const MAX_SELECTOR_LENGTH = 4096;
const MAX_DEPTH = 64;
const MAX_IN_LIST = 1000;

type Value = number | string | boolean | null;
type Expr = (m: Message) => Value;

type Token =
  | { kind: 'num'; value: number; pos: number }
  | { kind: 'str'; value: string; pos: number }
  | { kind: 'id'; value: string; pos: number }
  | { kind: 'kw'; value: string; pos: number }
  | { kind: 'op'; value: string; pos: number }
  | { kind: 'end'; pos: number };

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'BETWEEN', 'IN', 'LIKE', 'ESCAPE', 'IS', 'NULL', 'TRUE', 'FALSE']);

const isIdStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;
const isDigit = (c: number) => c >= 48 && c <= 57;
const isIdPart = (c: number) => isIdStart(c) || isDigit(c) || c === 46;

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) { i++; continue; }
    const start = i;
    if (c === 39 /* ' */) {
      let value = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new SelectorError('unterminated string', start);
        if (src.charCodeAt(i) === 39) {
          if (src.charCodeAt(i + 1) === 39) { value += "'"; i += 2; continue; }
          i++;
          break;
        }
        value += src[i++];
      }
      out.push({ kind: 'str', value, pos: start });
    } else if (isDigit(c) || (c === 46 && isDigit(src.charCodeAt(i + 1)))) {
      while (isDigit(src.charCodeAt(i))) i++;
      if (src.charCodeAt(i) === 46) { i++; while (isDigit(src.charCodeAt(i))) i++; }
      if (src[i] === 'e' || src[i] === 'E') {
        i++;
        if (src[i] === '+' || src[i] === '-') i++;
        if (!isDigit(src.charCodeAt(i))) throw new SelectorError('bad number', start);
        while (isDigit(src.charCodeAt(i))) i++;
      }
      const text = src.slice(start, i);
      if ('lLfFdD'.includes(src[i] ?? ' ')) i++; // Java literal suffixes
      out.push({ kind: 'num', value: Number(text), pos: start });
    } else if (isIdStart(c)) {
      while (i < src.length && isIdPart(src.charCodeAt(i))) i++;
      const word = src.slice(start, i);
      const upper = word.toUpperCase();
      out.push(KEYWORDS.has(upper) ? { kind: 'kw', value: upper, pos: start } : { kind: 'id', value: word, pos: start });
    } else {
      const two = src.slice(i, i + 2);
      if (two === '<>' || two === '<=' || two === '>=') {
        out.push({ kind: 'op', value: two, pos: start });
        i += 2;
      } else if ('=<>+-*/(),'.includes(src[i])) {
        out.push({ kind: 'op', value: src[i], pos: start });
        i++;
      } else {
        throw new SelectorError(`unexpected character ${JSON.stringify(src[i])}`, start);
      }
    }
  }
  out.push({ kind: 'end', pos: src.length });
  return out;
}

// ---- values and three-valued logic ---------------------------------------------------------

function fromHeader(v: HeaderValue | undefined): Value {
  if (v === undefined || v === null || Buffer.isBuffer(v)) return null;
  if (typeof v === 'bigint') return Number(v);
  return v;
}

/** Identifiers: a user header of that name, else the JMS header names and `priority`. */
function lookup(name: string): Expr {
  const special: Expr | undefined = ({
    JMSPriority: (m) => m.priority ?? 4,
    priority: (m) => m.priority ?? 4,
    JMSMessageID: (m) => m.messageId ?? null,
    JMSCorrelationID: (m) => (m.correlationId === undefined ? null : Buffer.isBuffer(m.correlationId) ? m.correlationId.toString('utf8') : m.correlationId),
    JMSTimestamp: (m) => m.timestamp,
    JMSExpiration: (m) => m.expiry ?? 0,
    JMSDeliveryMode: (m) => (m.durable ? 'PERSISTENT' : 'NON_PERSISTENT'),
    JMSType: (m) => fromHeader(m.headers.JMSType ?? m.headers.type),
  } as Record<string, Expr>)[name];
  if (!special) return (m) => fromHeader(m.headers[name]);
  return (m) => (name in m.headers ? fromHeader(m.headers[name]) : special(m));
}

/** A number, or a string that reads as one (STOMP and MQTT headers are strings). */
function numeric(v: Value): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

function equals(a: Value, b: Value): boolean | null {
  if (a === null || b === null) return null;
  if (typeof a === typeof b) return a === b;
  if (typeof a === 'boolean' || typeof b === 'boolean') return null;
  const x = numeric(a);
  const y = numeric(b);
  return x === null || y === null ? null : x === y;
}

function order(a: Value, b: Value): number | null {
  const x = numeric(a);
  const y = numeric(b);
  if (x === null || y === null || typeof a === 'boolean' || typeof b === 'boolean') return null;
  return x - y;
}

const not = (v: Value): Value => (v === true ? false : v === false ? true : null);

function and(a: Value, b: Value): Value {
  if (a === false || b === false) return false;
  return a === true && b === true ? true : null;
}

function or(a: Value, b: Value): Value {
  if (a === true || b === true) return true;
  return a === false && b === false ? false : null;
}

/** LIKE: `%` any run, `_` one character, `escape` makes the next character literal. No regex. */
function likeMatcher(pattern: string, escape: string | null): (s: string) => boolean {
  const parts: Array<{ any: boolean; one: boolean; ch: string }> = [];
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (escape !== null && ch === escape && i + 1 < pattern.length) parts.push({ any: false, one: false, ch: pattern[++i] });
    else parts.push({ any: ch === '%', one: ch === '_', ch });
  }
  return (s) => {
    // Greedy with one backtrack point for the last %: O(n*m) at worst.
    let si = 0;
    let pi = 0;
    let star = -1;
    let mark = 0;
    while (si < s.length) {
      const p = parts[pi];
      if (p && !p.any && (p.one || p.ch === s[si])) { si++; pi++; continue; }
      if (p?.any) { star = pi++; mark = si; continue; }
      if (star < 0) return false;
      pi = star + 1;
      si = ++mark;
    }
    while (parts[pi]?.any) pi++;
    return pi === parts.length;
  };
}

// ---- parser --------------------------------------------------------------------------------

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.i];
  }

  private isKw(word: string): boolean {
    const t = this.peek();
    return t.kind === 'kw' && t.value === word;
  }

  private isOp(op: string): boolean {
    const t = this.peek();
    return t.kind === 'op' && t.value === op;
  }

  private fail(what: string): never {
    const t = this.peek();
    const seen = t.kind === 'end' ? 'the end' : JSON.stringify(String(t.value));
    throw new SelectorError(`expected ${what}, found ${seen}`, t.pos);
  }

  private expectKw(word: string): void {
    if (!this.isKw(word)) this.fail(word);
    this.i++;
  }

  private expectOp(op: string): void {
    if (!this.isOp(op)) this.fail(`"${op}"`);
    this.i++;
  }

  parse(): Expr {
    const e = this.or();
    if (this.peek().kind !== 'end') this.fail('an operator or the end');
    return e;
  }

  private nested<T>(fn: () => T): T {
    if (++this.depth > MAX_DEPTH) throw new SelectorError(`nested deeper than ${MAX_DEPTH}`, this.peek().pos);
    try {
      return fn();
    } finally {
      this.depth--;
    }
  }

  private or(): Expr {
    let left = this.and();
    while (this.isKw('OR')) {
      this.i++;
      const a = left;
      const b = this.and();
      left = (m) => or(a(m), b(m));
    }
    return left;
  }

  private and(): Expr {
    let left = this.not();
    while (this.isKw('AND')) {
      this.i++;
      const a = left;
      const b = this.not();
      left = (m) => and(a(m), b(m));
    }
    return left;
  }

  private not(): Expr {
    if (this.isKw('NOT')) {
      this.i++;
      const e = this.nested(() => this.not());
      return (m) => not(e(m));
    }
    return this.compare();
  }

  private compare(): Expr {
    const left = this.sum();
    const t = this.peek();
    if (t.kind === 'op' && ['=', '<>', '<', '<=', '>', '>='].includes(t.value)) {
      this.i++;
      const right = this.sum();
      switch (t.value) {
        case '=': return (m) => equals(left(m), right(m));
        case '<>': return (m) => not(equals(left(m), right(m)));
        case '<': return (m) => { const d = order(left(m), right(m)); return d === null ? null : d < 0; };
        case '<=': return (m) => { const d = order(left(m), right(m)); return d === null ? null : d <= 0; };
        case '>': return (m) => { const d = order(left(m), right(m)); return d === null ? null : d > 0; };
        default: return (m) => { const d = order(left(m), right(m)); return d === null ? null : d >= 0; };
      }
    }
    if (this.isKw('IS')) {
      this.i++;
      const negate = this.isKw('NOT');
      if (negate) this.i++;
      this.expectKw('NULL');
      return negate ? (m) => left(m) !== null : (m) => left(m) === null;
    }
    let negate = false;
    if (this.isKw('NOT')) {
      this.i++;
      negate = true;
      if (!this.isKw('BETWEEN') && !this.isKw('IN') && !this.isKw('LIKE')) this.fail('BETWEEN, IN or LIKE after NOT');
    }
    let e: Expr | null = null;
    if (this.isKw('BETWEEN')) {
      this.i++;
      const lo = this.sum();
      this.expectKw('AND');
      const hi = this.sum();
      e = (m) => {
        const v = left(m);
        const a = order(v, lo(m));
        const b = order(v, hi(m));
        return and(a === null ? null : a >= 0, b === null ? null : b <= 0);
      };
    } else if (this.isKw('IN')) {
      this.i++;
      this.expectOp('(');
      const list: Value[] = [this.literal()];
      while (this.isOp(',')) {
        this.i++;
        if (list.length >= MAX_IN_LIST) throw new SelectorError(`more than ${MAX_IN_LIST} values in IN`, this.peek().pos);
        list.push(this.literal());
      }
      this.expectOp(')');
      e = (m) => {
        const v = left(m);
        if (v === null) return null;
        return list.some((x) => equals(v, x) === true);
      };
    } else if (this.isKw('LIKE')) {
      this.i++;
      const pattern = this.peek();
      if (pattern.kind !== 'str') this.fail('a string pattern after LIKE');
      this.i++;
      let escape: string | null = null;
      if (this.isKw('ESCAPE')) {
        this.i++;
        const esc = this.peek();
        if (esc.kind !== 'str' || esc.value.length !== 1) this.fail('a one-character string after ESCAPE');
        escape = esc.value;
        this.i++;
      }
      const match = likeMatcher(pattern.value, escape);
      e = (m) => {
        const v = left(m);
        return typeof v === 'string' ? match(v) : null;
      };
    }
    if (!e) return left;
    const inner = e;
    return negate ? (m) => not(inner(m)) : inner;
  }

  private literal(): Value {
    const t = this.peek();
    let sign = 1;
    if (t.kind === 'op' && (t.value === '-' || t.value === '+')) {
      sign = t.value === '-' ? -1 : 1;
      this.i++;
    }
    const v = this.peek();
    if (v.kind === 'num') { this.i++; return sign * v.value; }
    if (v.kind === 'str' && sign === 1 && t === v) { this.i++; return v.value; }
    return this.fail('a string or number literal');
  }

  private sum(): Expr {
    let left = this.product();
    for (let t = this.peek(); t.kind === 'op' && (t.value === '+' || t.value === '-'); t = this.peek()) {
      this.i++;
      const a = left;
      const b = this.product();
      left = t.value === '+' ? (m) => arith(a(m), b(m), (x, y) => x + y) : (m) => arith(a(m), b(m), (x, y) => x - y);
    }
    return left;
  }

  private product(): Expr {
    let left = this.unary();
    for (let t = this.peek(); t.kind === 'op' && (t.value === '*' || t.value === '/'); t = this.peek()) {
      this.i++;
      const a = left;
      const b = this.unary();
      left = t.value === '*' ? (m) => arith(a(m), b(m), (x, y) => x * y) : (m) => arith(a(m), b(m), (x, y) => x / y);
    }
    return left;
  }

  private unary(): Expr {
    const t = this.peek();
    if (t.kind === 'op' && (t.value === '-' || t.value === '+')) {
      this.i++;
      const e = this.nested(() => this.unary());
      return t.value === '-' ? (m) => arith(0, e(m), (x, y) => x - y) : (m) => arith(0, e(m), (x, y) => x + y);
    }
    if (t.kind === 'op' && t.value === '(') {
      this.i++;
      const e = this.nested(() => this.or());
      this.expectOp(')');
      return e;
    }
    this.i++;
    switch (t.kind) {
      case 'num': { const v = t.value; return () => v; }
      case 'str': { const v = t.value; return () => v; }
      case 'id': return lookup(t.value);
      case 'kw':
        if (t.value === 'TRUE') return () => true;
        if (t.value === 'FALSE') return () => false;
        if (t.value === 'NULL') return () => null;
    }
    this.i--;
    return this.fail('a value, a header name or "("');
  }
}

function arith(a: Value, b: Value, op: (x: number, y: number) => number): Value {
  const x = numeric(a);
  const y = numeric(b);
  if (x === null || y === null || typeof a === 'boolean' || typeof b === 'boolean') return null;
  const r = op(x, y);
  return Number.isFinite(r) ? r : null;
}

/** Compiles a selector; throws SelectorError naming the position of the first problem. */
export function compileSelector(source: string): Selector {
  if (source.length > MAX_SELECTOR_LENGTH) throw new SelectorError(`longer than ${MAX_SELECTOR_LENGTH} characters`, MAX_SELECTOR_LENGTH);
  if (source.trim() === '') throw new SelectorError('empty selector', 0);
  const expr = new Parser(tokenize(source)).parse();
  return (m) => expr(m) === true;
}
