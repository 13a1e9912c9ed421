import type { JsonValue } from '../../src/eventstore/types';

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)];

/** Characters that print differently, sort differently or end a string early. */
const CHARACTERS = [
  ...['a', 'b', 'z', 'A', 'Z', '0', '9', ' ', '"', '\\', '/', ':', ',', '{', '['],
  ...['\n', '\r', '\t', '\b', '\f', '\u001f', '\u007f'],
  ...['é', 'ß', 'Ω', 'ж', '中', '\u2028', '\u2029', '\ufeff', '\uffff', '\ue000', '😀', '𝄞'],
];
/** What a PostgreSQL jsonb cannot hold: the character 0 and lone surrogates. */
const BEYOND_JSONB = ['\u0000', '\ud800', '\udc00'];
const NUMBERS = [
  ...[0, -0, 1, -1, 0.1, -0.5, 100, Math.PI, 1e21, 1e-7, 1e-6, 0.000001, 1e300, -1e-300, 1.5e308],
  ...[123456789012345, 999999999999999, 1234567890123456, 12345678901234567000, 2 ** 53, -(2 ** 53) - 2],
  ...[Number.MAX_VALUE, Number.MIN_VALUE, 5e-324],
];
/** Keys that share prefixes, look like array indices, or sort by code unit against astral characters. */
const KEYS = [
  '',
  'a',
  'aa',
  'ab',
  'a!',
  'b',
  'B',
  '0',
  '1',
  '10',
  '2',
  '-1',
  '01',
  '__proto__',
  'constructor',
  'é',
  'z',
  '😀',
  '\ue000',
  'a"b',
  'a\\b',
  'tenantId',
  'id',
];

export interface JsonValueOptions {
  /** Only what a jsonb column holds (no character 0, no lone surrogate). */
  jsonb?: boolean;
}

/** A string of up to 7 characters that JSON prints in unusual ways. */
export function jsonString(random: Random, options: JsonValueOptions = {}): string {
  const characters = options.jsonb ? CHARACTERS : [...CHARACTERS, ...BEYOND_JSONB];
  let out = '';
  const length = Math.floor(random() * 8);
  for (let i = 0; i < length; i++) out += pick(random, characters);
  return out;
}

/** A JSON value nested up to `depth`, as JSON.parse would make it. */
export function jsonValue(random: Random, depth: number, options: JsonValueOptions = {}): JsonValue {
  const roll = random();
  if (depth > 0 && roll < 0.25) {
    const object: Record<string, JsonValue> = {};
    const size = Math.floor(random() * 6);
    for (let i = 0; i < size; i++) {
      // As JSON.parse makes it: an own member, even under the name __proto__.
      const key = random() < 0.6 ? pick(random, KEYS) : jsonString(random, options);
      Object.defineProperty(object, key, { value: jsonValue(random, depth - 1, options), enumerable: true, writable: true, configurable: true });
    }
    return object;
  }
  if (depth > 0 && roll < 0.4) return Array.from({ length: Math.floor(random() * 5) }, () => jsonValue(random, depth - 1, options));
  if (roll < 0.55) return pick(random, NUMBERS);
  if (roll < 0.65) return Math.round((random() - 0.5) * 10 ** Math.floor(random() * 20)) / 10 ** Math.floor(random() * 4);
  if (roll < 0.7) return null;
  if (roll < 0.75) return random() < 0.5;
  return jsonString(random, options);
}
