import type { JsonValue } from './types';

/** JSON with object keys sorted at every depth: one text for one value, whatever the key order. */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(',')}}`;
}

/**
 * canonicalJson(JSON.parse(text)), read straight from the JSON text: the same string, without
 * building the value first. A verification reads each event's data and metadata as PostgreSQL
 * prints them (jsonb's text) and hashes them; parsing them into objects and walking the objects
 * again cost most of its time. Any text it does not read plainly (a string with a surrogate, a
 * number it would have to round) takes the long way, so the result is the same for every text
 * JSON.parse accepts; text that is not JSON is an error either way.
 */
export function canonicalJsonOfText(text: string): string {
  // A lone surrogate prints escaped, a control character in a string is not JSON, and outside one
  // it is white space the reader does not skip (PostgreSQL prints none of them): texts with any
  // take the long way.
  if (!UNPLAIN.test(text)) {
    const out = reader.read(text);
    if (out !== null) return out;
  }
  return canonicalJson(JSON.parse(text) as JsonValue);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const UNPLAIN = /[\u0000-\u001f\ud800-\udfff]/;
const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

// Character codes.
const SPACE = 32;
const QUOTE = 34;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const COLON = 58;
const UPPER_E = 69;
const OPEN_BRACKET = 91;
const BACKSLASH = 92;
const CLOSE_BRACKET = 93;
const LOWER_E = 101;
const LOWER_F = 102;
const LOWER_N = 110;
const LOWER_T = 116;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;

/** Thrown inside the reader at anything it does not read plainly; the caller then parses. */
class NotPlain extends Error {}
const notPlain = new NotPlain();

class Reader {
  private text = '';
  private pos = 0;
  /** The value of the last string read, when it has escapes (null: its text without the quotes). */
  private unescaped: string | null = null;
  /** Where the next backslash at or after the string being read stands (-1: none). */
  private backslash = -1;
  /** The keys and members of the objects open, sorted each from its start. */
  private readonly keys: string[] = [];
  private readonly members: string[] = [];
  private top = 0;

  /** The canonical text, or null when the text should be parsed instead. */
  read(text: string): string | null {
    this.text = text;
    this.pos = 0;
    this.backslash = text.indexOf('\\');
    this.top = 0;
    try {
      const out = this.value();
      if (this.space() === this.text.length) return out;
    } catch (error) {
      if (error !== notPlain) throw error;
    }
    return null;
  }

  /** Skips spaces (other white space is a control character: such a text took the long way). */
  private space(): number {
    const text = this.text;
    let pos = this.pos;
    while (text.charCodeAt(pos) === SPACE) pos++;
    this.pos = pos;
    return pos;
  }

  private value(): string {
    const text = this.text;
    const c = text.charCodeAt(this.space());
    switch (c) {
      case OPEN_BRACE:
        return this.object();
      case OPEN_BRACKET:
        return this.array();
      case QUOTE:
        return this.string();
      case LOWER_T:
        return this.literal('true');
      case LOWER_F:
        return this.literal('false');
      case LOWER_N:
        return this.literal('null');
      default:
        return this.number();
    }
  }

  private literal(word: string): string {
    if (!this.text.startsWith(word, this.pos)) throw notPlain;
    this.pos += word.length;
    return word;
  }

  /** A number as JSON.stringify prints the double JSON.parse reads. */
  private number(): string {
    const text = this.text;
    const start = this.pos;
    let pos = start;
    let digitsOnly = true;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c >= ZERO && c <= NINE) pos++;
      else if (c === MINUS || c === PLUS || c === DOT || c === LOWER_E || c === UPPER_E) {
        digitsOnly &&= c === MINUS && pos === start;
        pos++;
      } else break;
    }
    this.pos = pos;
    const token = text.slice(start, pos);
    // An integer of up to 15 digits without a leading zero (or 0 alone, not -0) prints as written.
    const first = text.charCodeAt(start) === MINUS ? start + 1 : start;
    if (digitsOnly && pos > first && pos - first <= 15 && (text.charCodeAt(first) !== ZERO || pos - start === 1)) return token;
    if (!NUMBER.test(token)) throw notPlain;
    const number = Number(token);
    return Number.isFinite(number) ? String(number) : 'null';
  }

  /** A string as JSON.stringify prints it; its value, when it has escapes, is left in `unescaped`. */
  private string(): string {
    const text = this.text;
    const start = this.pos;
    let end = text.indexOf('"', start + 1);
    if (end < 0) throw notPlain;
    if (this.backslash >= 0 && this.backslash < start) this.backslash = text.indexOf('\\', start);
    if (this.backslash < 0 || this.backslash > end) {
      // Without escapes the text is the value (the text holds no control character).
      this.pos = end + 1;
      this.unescaped = null;
      return text.slice(start, end + 1);
    }
    for (;;) {
      let backslashes = 0;
      while (text.charCodeAt(end - 1 - backslashes) === BACKSLASH) backslashes++;
      if (backslashes % 2 === 0) break;
      end = text.indexOf('"', end + 1);
      if (end < 0) throw notPlain;
    }
    this.pos = end + 1;
    this.unescaped = JSON.parse(text.slice(start, end + 1)) as string;
    return JSON.stringify(this.unescaped);
  }

  /** Steps into an array or an object; true when it closes at once (and steps out). */
  private empty(close: number): boolean {
    this.pos++;
    if (this.text.charCodeAt(this.space()) !== close) return false;
    this.pos++;
    return true;
  }

  private array(): string {
    const text = this.text;
    if (this.empty(CLOSE_BRACKET)) return '[]';
    let out = '[';
    for (;;) {
      out += this.value();
      const c = text.charCodeAt(this.space());
      this.pos++;
      if (c === CLOSE_BRACKET) return `${out}]`;
      if (c !== COMMA) throw notPlain;
      out += ',';
    }
  }

  /** Members sorted by key as Array.prototype.sort orders strings; of a repeated key, the last. */
  private object(): string {
    const text = this.text;
    if (this.empty(CLOSE_BRACE)) return '{}';
    // The members of every open object share one stack: an inner object is done before its outer
    // object's member lands above it.
    const keys = this.keys;
    const members = this.members;
    const base = this.top;
    for (;;) {
      if (text.charCodeAt(this.space()) !== QUOTE) throw notPlain;
      const printed = this.string();
      const key = this.unescaped ?? printed.slice(1, -1);
      if (text.charCodeAt(this.space()) !== COLON) throw notPlain;
      this.pos++;
      const member = `${printed}:${this.value()}`;
      // Insertion sort: objects are small, and an equal key lands after the one it repeats.
      let at = this.top++;
      while (at > base && keys[at - 1] > key) {
        keys[at] = keys[at - 1];
        members[at] = members[at - 1];
        at--;
      }
      keys[at] = key;
      members[at] = member;
      const c = text.charCodeAt(this.space());
      this.pos++;
      if (c === CLOSE_BRACE) break;
      if (c !== COMMA) throw notPlain;
    }
    const end = this.top;
    this.top = base;
    let out = '{';
    for (let i = base; i < end; i++) {
      if (i + 1 < end && keys[i + 1] === keys[i]) continue;
      if (out.length > 1) out += ',';
      out += members[i];
    }
    return `${out}}`;
  }
}

/** One reader serves every call: it reads a text to its end before the next call. */
const reader = new Reader();
