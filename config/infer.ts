/**
 * TypeScript types derived from the configuration's JSON Schema (written `as const`), so a settings
 * type cannot drift from the schema that validates it. Covers the subset the schema uses: `type`
 * (one or a list), `enum`, `const`, `anyOf`, `properties` (a key with a `default` or listed in
 * `required` is always present after validation; others are optional) and `items`.
 */

type Primitive<T> = T extends 'integer' | 'number'
  ? number
  : T extends 'string'
    ? string
    : T extends 'boolean'
      ? boolean
      : T extends 'null'
        ? null
        : never;

type RequiredKeys<P, R> = {
  [K in keyof P]: P[K] extends { default: unknown } ? K : K extends R ? K : never;
}[keyof P];

type Flatten<T> = { [K in keyof T]: T[K] } & {};

type ObjectOf<P, R> = Flatten<
  { -readonly [K in RequiredKeys<P, R>]: FromSchema<P[K]> } & {
    -readonly [K in Exclude<keyof P, RequiredKeys<P, R>>]?: FromSchema<P[K]>;
  }
>;

type RequiredList<S> = S extends { required: readonly (infer R)[] } ? R : never;

/** One member of a `type: [...]` list (distributes over the list's members). */
type TypeMember<T, S> = T extends 'array'
  ? S extends { items: infer I }
    ? FromSchema<I>[]
    : unknown[]
  : T extends 'object'
    ? S extends { properties: infer P }
      ? ObjectOf<P, RequiredList<S>>
      : Record<string, unknown>
    : Primitive<T>;

export type FromSchema<S> = S extends { enum: readonly (infer E)[] }
  ? E
  : S extends { const: infer C }
    ? C
    : S extends { anyOf: readonly (infer A)[] }
      ? FromSchema<A>
      : S extends { type: readonly (infer T)[] }
        ? TypeMember<T, S>
        : S extends { type: infer T }
          ? TypeMember<T, S>
          : unknown;

/** Compile-time check that a hand-written type and the schema's type accept the same values. */
export type SameShape<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
