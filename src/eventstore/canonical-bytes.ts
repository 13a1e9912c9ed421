/**
 * What contentHash hashes, made from an event's data and metadata as JSON text (jsonb printed) as
 * UTF-8 bytes in a buffer kept for every call: the text's bytes are read once and the canonical
 * ones written once, members of an object moved into key order as bytes. A verification hashes
 * every event of a tenant this way; made as strings (a string per member, joined, then encoded for
 * the hash), they cost most of its processor time and most of its garbage.
 *
 * It reads what it reads plainly and gives up (null) on anything else, which then takes the way of
 * strings (canonicalJsonOfText): a string with an escape as an object's key, a key repeated, a key
 * outside the Basic Multilingual Plane (UTF-8's order of such keys is not JavaScript's), white space
 * other than spaces, a control character, a replacement character (what a lone surrogate is written
 * as), a number it would have to round, and text that is not JSON.
 */

// Character codes.
const [SPACE, QUOTE, PLUS, COMMA, MINUS, DOT, ZERO, NINE, COLON, UPPER_E] = Buffer.from(' "+,-.09:E');
const [OPEN_BRACKET, BACKSLASH, CLOSE_BRACKET, LOWER_E, LOWER_F, LOWER_N, LOWER_T, OPEN_BRACE, CLOSE_BRACE] = Buffer.from('[\\]efnt{}');

/** Buffers larger than this are let go after the call that needed them. */
const LARGEST_KEPT = 1 << 22;

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** Thrown inside the writer at anything it does not read plainly; the caller then takes the way of strings. */
class NotPlain extends Error {}
const notPlain = new NotPlain();

class CanonicalBytes {
  /** The text being read, as UTF-8. */
  private input = Buffer.allocUnsafe(1 << 16);
  private end = 0;
  private pos = 0;
  /** What is written; past its end, the room where an object's members are put in order. */
  private out = Buffer.allocUnsafe(1 << 16);
  private len = 0;
  /** The members of the objects open: where each starts and ends in `out`, and its key's bytes (inside the quotes). */
  private memberStart = new Int32Array(256);
  private memberEnd = new Int32Array(256);
  private keyStart = new Int32Array(256);
  private keyEnd = new Int32Array(256);
  /** A key's first three bytes as one number: most keys are put in order by it alone (no key holds a byte 0). */
  private keyPrefix = new Int32Array(256);
  private top = 0;

  /**
   * The bytes of `{"data":…,"id":…,"metadata":…,"type":…}` in canonical form (a view of a buffer the
   * next call overwrites), or null to take the way of strings.
   */
  content(id: string, type: string, dataText: string, metadataText: string): Uint8Array | null {
    // A character is at most 3 bytes, printed with an escape at most 6; a number printed again at
    // most 6 times as long as its text (1e20 is 100000000000000000000). An object put in order needs
    // as much again, which it usually finds: where it does not, the text takes the way of strings.
    const room = 64 + 18 * (dataText.length + metadataText.length) + 6 * (id.length + type.length);
    // The room a rare large event took is not kept for the next.
    if (this.out.length < room || this.out.length > Math.max(room, LARGEST_KEPT)) this.out = Buffer.allocUnsafe(Math.max(room, 1 << 16));
    this.len = 0;
    this.top = 0;
    try {
      this.ascii('{"data":');
      this.canonical(dataText);
      this.ascii(',"id":');
      this.text(JSON.stringify(id));
      this.ascii(',"metadata":');
      this.canonical(metadataText);
      this.ascii(',"type":');
      this.text(JSON.stringify(type));
      this.ascii('}');
    } catch (error) {
      if (error !== notPlain) throw error;
      return null;
    }
    return this.out.subarray(0, this.len);
  }

  private ascii(text: string): void {
    const out = this.out;
    let len = this.len;
    for (let i = 0; i < text.length; i++) out[len++] = text.charCodeAt(i);
    this.len = len;
  }

  /** A string as UTF-8, refusing what a lone surrogate would become. */
  private text(text: string): void {
    const from = this.len;
    this.len += this.out.write(text, from, 'utf8');
    this.refuseReplacement(from, this.len);
  }

  private refuseReplacement(from: number, to: number): void {
    const out = this.out;
    for (let i = from; i < to - 2; i++) {
      if (out[i] === 0xef && out[i + 1] === 0xbf && out[i + 2] === 0xbd) throw notPlain;
    }
  }

  private canonical(text: string): void {
    const room = 3 * text.length;
    if (this.input.length < room || this.input.length > Math.max(room, LARGEST_KEPT)) this.input = Buffer.allocUnsafe(Math.max(room, 1 << 16));
    this.end = this.input.write(text, 0, 'utf8');
    this.pos = 0;
    this.value();
    if (this.space() !== this.end) throw notPlain;
  }

  /** Skips spaces (other white space, which PostgreSQL does not print, takes the way of strings). */
  private space(): number {
    const input = this.input;
    let pos = this.pos;
    while (pos < this.end && input[pos] === SPACE) pos++;
    this.pos = pos;
    return pos;
  }

  private value(): void {
    const at = this.space();
    if (at >= this.end) throw notPlain;
    switch (this.input[at]) {
      case OPEN_BRACE:
        this.object();
        break;
      case OPEN_BRACKET:
        this.array();
        break;
      case QUOTE:
        this.string();
        break;
      case LOWER_T:
        this.literal('true');
        break;
      case LOWER_F:
        this.literal('false');
        break;
      case LOWER_N:
        this.literal('null');
        break;
      default:
        this.number();
    }
  }

  private literal(word: string): void {
    const input = this.input;
    const pos = this.pos;
    if (pos + word.length > this.end) throw notPlain;
    for (let i = 0; i < word.length; i++) if (input[pos + i] !== word.charCodeAt(i)) throw notPlain;
    this.pos = pos + word.length;
    this.ascii(word);
  }

  /** A number as JSON.stringify prints the double JSON.parse reads. */
  private number(): void {
    const input = this.input;
    const start = this.pos;
    let pos = start;
    let digitsOnly = true;
    for (; pos < this.end; pos++) {
      const c = input[pos];
      if (c >= ZERO && c <= NINE) continue;
      if (c === MINUS || c === PLUS || c === DOT || c === LOWER_E || c === UPPER_E) digitsOnly &&= c === MINUS && pos === start;
      else break;
    }
    this.pos = pos;
    // An integer of up to 15 digits without a leading zero (or 0 alone, not -0) prints as written.
    const first = input[start] === MINUS ? start + 1 : start;
    if (digitsOnly && pos > first && pos - first <= 15 && (input[first] !== ZERO || pos - start === 1)) {
      const out = this.out;
      let len = this.len;
      for (let i = start; i < pos; i++) out[len++] = input[i];
      this.len = len;
      return;
    }
    const token = input.toString('latin1', start, pos);
    if (!NUMBER.test(token)) throw notPlain;
    const number = Number(token);
    this.ascii(Number.isFinite(number) ? String(number) : 'null');
  }

  /**
   * A string as JSON.stringify prints it. Without escapes its bytes are copied; with them it is
   * read and printed again. True when it had escapes.
   */
  private string(): boolean {
    const input = this.input;
    const out = this.out;
    const start = this.pos;
    let len = this.len;
    out[len++] = QUOTE;
    for (let pos = start + 1; pos < this.end; pos++) {
      const c = input[pos];
      if (c === QUOTE) {
        out[len++] = QUOTE;
        this.len = len;
        this.pos = pos + 1;
        return false;
      }
      if (c === BACKSLASH) return this.escaped(start);
      // A control character is not JSON; a replacement character may stand for a lone surrogate.
      if (c < SPACE || (c === 0xef && input[pos + 1] === 0xbf && input[pos + 2] === 0xbd)) throw notPlain;
      out[len++] = c;
    }
    throw notPlain;
  }

  /** A string with escapes, from its opening quote: read by JSON.parse, printed by JSON.stringify. */
  private escaped(start: number): boolean {
    const input = this.input;
    let pos = start + 1;
    for (; pos < this.end; pos++) {
      const c = input[pos];
      if (c === BACKSLASH) pos++;
      else if (c === QUOTE) break;
      else if (c < SPACE) throw notPlain;
    }
    if (pos >= this.end) throw notPlain;
    let value: string;
    try {
      value = JSON.parse(input.toString('utf8', start, pos + 1)) as string;
    } catch {
      throw notPlain;
    }
    this.pos = pos + 1;
    this.text(JSON.stringify(value));
    return true;
  }

  /** Steps into an array or an object; true when it closes at once (and steps out). */
  private empty(close: number): boolean {
    this.pos++;
    if (this.input[this.space()] !== close) return false;
    this.pos++;
    return true;
  }

  private array(): void {
    const input = this.input;
    this.out[this.len++] = OPEN_BRACKET;
    if (this.empty(CLOSE_BRACKET)) {
      this.out[this.len++] = CLOSE_BRACKET;
      return;
    }
    for (;;) {
      this.value();
      const c = input[this.space()];
      this.pos++;
      if (c === CLOSE_BRACKET) {
        this.out[this.len++] = CLOSE_BRACKET;
        return;
      }
      if (c !== COMMA) throw notPlain;
      this.out[this.len++] = COMMA;
    }
  }

  /** Members in order of their keys as Array.prototype.sort orders strings. */
  private object(): void {
    const input = this.input;
    const open = this.len;
    this.out[this.len++] = OPEN_BRACE;
    if (this.empty(CLOSE_BRACE)) {
      this.out[this.len++] = CLOSE_BRACE;
      return;
    }
    const base = this.top;
    let sorted = true;
    for (;;) {
      if (input[this.space()] !== QUOTE) throw notPlain;
      const member = this.top++;
      if (member >= this.memberStart.length) this.grow();
      this.memberStart[member] = this.len;
      if (this.string()) throw notPlain;
      const keyStart = this.memberStart[member] + 1;
      const keyEnd = this.len - 1;
      this.keyStart[member] = keyStart;
      this.keyEnd[member] = keyEnd;
      const out = this.out;
      // Past the Basic Multilingual Plane, UTF-8's order is not that of UTF-16 code units.
      for (let i = keyStart; i < keyEnd; i++) if (out[i] >= 0xf0) throw notPlain;
      const length = keyEnd - keyStart;
      // A missing byte counts as 0, before every byte a key can hold: an empty key comes first.
      this.keyPrefix[member] = (length > 0 ? out[keyStart] << 16 : 0) | (length > 1 ? out[keyStart + 1] << 8 : 0) | (length > 2 ? out[keyStart + 2] : 0);
      if (input[this.space()] !== COLON) throw notPlain;
      this.pos++;
      this.out[this.len++] = COLON;
      this.value();
      this.memberEnd[member] = this.len;
      if (member > base) {
        const order = this.compareKeys(member - 1, member);
        if (order === 0) throw notPlain;
        if (order > 0) sorted = false;
      }
      const c = input[this.space()];
      this.pos++;
      if (c === CLOSE_BRACE) break;
      if (c !== COMMA) throw notPlain;
      this.out[this.len++] = COMMA;
    }
    const members = this.top - base;
    this.top = base;
    if (!sorted) this.sortMembers(open, base, members);
    this.out[this.len++] = CLOSE_BRACE;
  }

  /** Writes the object's members again from its brace, in key order, refusing a repeated key. */
  private sortMembers(open: number, base: number, members: number): void {
    const order: number[] = [];
    for (let m = base; m < base + members; m++) {
      let at = order.length;
      order.push(m);
      while (at > 0 && this.compareKeys(order[at - 1], m) > 0) {
        order[at] = order[at - 1];
        at--;
      }
      order[at] = m;
    }
    // The members go in order past what is written, then back where they were (copies within the buffer).
    const out = this.out;
    const memberStart = this.memberStart;
    const memberEnd = this.memberEnd;
    const room = this.len;
    if (room + (room - open) > out.length) throw notPlain;
    let n = room;
    for (let i = 0; i < order.length; i++) {
      if (i > 0) {
        if (this.compareKeys(order[i - 1], order[i]) === 0) throw notPlain;
        out[n++] = COMMA;
      }
      const m = order[i];
      out.copyWithin(n, memberStart[m], memberEnd[m]);
      n += memberEnd[m] - memberStart[m];
    }
    out.copyWithin(open + 1, room, n);
    this.len = open + 1 + (n - room);
  }

  private compareKeys(a: number, b: number): number {
    const prefixes = this.keyPrefix[a] - this.keyPrefix[b];
    if (prefixes !== 0) return prefixes;
    const out = this.out;
    let i = this.keyStart[a];
    let j = this.keyStart[b];
    const iEnd = this.keyEnd[a];
    const jEnd = this.keyEnd[b];
    for (; i < iEnd && j < jEnd; i++, j++) {
      if (out[i] !== out[j]) return out[i] - out[j];
    }
    return iEnd - i - (jEnd - j);
  }

  private grow(): void {
    const size = this.memberStart.length * 2;
    const larger = (from: Int32Array) => {
      const to = new Int32Array(size);
      to.set(from);
      return to;
    };
    this.memberStart = larger(this.memberStart);
    this.memberEnd = larger(this.memberEnd);
    this.keyStart = larger(this.keyStart);
    this.keyEnd = larger(this.keyEnd);
    this.keyPrefix = larger(this.keyPrefix);
  }
}

/** One writer serves every call: it is done with a call before the next begins. */
const writer = new CanonicalBytes();

/**
 * The UTF-8 bytes contentHash hashes for an event whose data and metadata are JSON text, or null
 * when the text takes the way of strings. The view is overwritten by the next call.
 */
export function canonicalContentBytes(event: { id: string; type: string; dataText: string; metadataText: string }): Uint8Array | null {
  return writer.content(event.id, event.type, event.dataText, event.metadataText);
}
