import { canonicalContentBytes } from '../../src/eventstore/canonical-bytes';
import { canonicalJson } from '../../src/eventstore/canonical-json';
import { contentHash, contentHashOfText } from '../../src/eventstore/hash-chain';
import type { JsonValue } from '../../src/eventstore/types';
import { seeded } from '../support/bad-inputs';
import { jsonString, jsonValue } from '../support/json-values';

/** Printed as jsonb prints: shorter keys first, then by bytes of UTF-8, with a space after each separator. */
function jsonbPrinted(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(jsonbPrinted).join(', ')}]`;
  const keys = Object.keys(value).sort((a, b) => Buffer.byteLength(a) - Buffer.byteLength(b) || Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return `{${keys.map((key) => `${JSON.stringify(key)}: ${jsonbPrinted(value[key])}`).join(', ')}}`;
}

/** What contentHash hashes, as a string, made from the parsed values. */
function expected(id: string, type: string, dataText: string, metadataText: string): string {
  return canonicalJson({ id, type, data: JSON.parse(dataText) as JsonValue, metadata: JSON.parse(metadataText) as JsonValue });
}

/** The bytes as text, or null where the texts take the way of strings. */
function made(id: string, type: string, dataText: string, metadataText: string): string | null {
  const bytes = canonicalContentBytes({ id, type, dataText, metadataText });
  return bytes === null ? null : Buffer.from(bytes).toString('utf8');
}

describe("an event's content made as canonical bytes from its JSON text", () => {
  it('is the canonical text of the parsed values, byte for byte, and is made so for nearly every text jsonb prints', () => {
    const random = seeded(20261206);
    let asBytes = 0;
    for (let i = 0; i < 3000; i++) {
      const id = jsonString(random);
      const type = jsonString(random);
      const dataText = jsonbPrinted(jsonValue(random, 4, { jsonb: true }));
      const metadataText = jsonbPrinted({ tenantId: jsonString(random), actor: jsonValue(random, 2, { jsonb: true }) });
      const text = made(id, type, dataText, metadataText);
      if (text === null) {
        // Only texts with an escaped, astral or repeated key, or a replacement character, go the other way.
        expect(/\\|\ufffd|[\ud800-\udfff]/.test(dataText + metadataText)).toBe(true);
        continue;
      }
      expect(text).toBe(expected(id, type, dataText, metadataText));
      asBytes++;
    }
    expect(asBytes).toBeGreaterThan(1500);
  });

  it('reads members in any order and with any spaces, nested at any depth', () => {
    const text = '{"zz": {"b": [1, {"y": true, "x": null}], "a": "é"}, "a": [], "m": {}, "ab": -12, "b": "\\n\\"\\\\ \\u0001 \\u00e9 \\/"}';
    expect(made('id', 'T', text, '{ "tenantId" :"t" }')).toBe(expected('id', 'T', text, '{ "tenantId" :"t" }'));
    expect(made('id', 'T', text, '{}')).toContain('"data":{"a":[],"ab":-12,"b":"\\n\\"\\\\ \\u0001 é /","m":{},"zz":{"a":"é","b":[1,{"x":null,"y":true}]}}');
  });

  it('copies plain strings whole before, between and after strings with escapes', () => {
    const texts = [
      '{"a": "plain", "b": "with \\"quotes\\" inside", "c": "plain again", "d": "ends with \\\\", "e": ["é", "\\u00e9", "x"], "f": "last"}',
      '["\\\\", "a", "\\"", "b\\\\", "c", "\\ud83d\\ude00", "😀", "d"]',
      '{"z": {"k": "\\u0000"}, "y": "plain"}',
    ];
    for (const text of texts) {
      expect([text, made('id', 'T', text, '{"tenantId": "t", "note": "\\\\ plain"}')]).toEqual([
        text,
        expected('id', 'T', text, '{"tenantId": "t", "note": "\\\\ plain"}'),
      ]);
    }
  });

  it('puts an empty key first, before keys that start with the lowest bytes', () => {
    for (const text of ['{"": 1, " ": 2}', '{"": 1, "!": 2}', '{" ": 2, "": 1}', '{"": {"": [], " x": 0}, "#": 3}', '{"a": 1, "": 2}']) {
      expect([text, made('i', 't', text, '{}')]).toEqual([text, expected('i', 't', text, '{}')]);
      expect(contentHashOfText({ id: 'i', type: 't', dataText: text, metadataText: '{}' })).toBe(
        contentHash({ id: 'i', type: 't', data: JSON.parse(text) as JsonValue, metadata: {} }),
      );
    }
  });

  it('prints numbers as JSON.stringify prints what JSON.parse reads', () => {
    const numbers = ['0', '-0', '0.0', '1.0', '1.50', '1e21', '1E21', '1e+21', '1e-7', '10e-1', '1e400', '-1e400', '1e-400', '1e20'];
    const more = ['123456789012345', '1234567890123456', '9007199254740993', '100000000000000000000', '12345678901234567890123'];
    for (const number of [...numbers, ...more]) {
      for (const text of [number, `[${number}, ${number}]`, `{"n": ${number}}`]) expect(made('i', 't', text, '{}')).toBe(expected('i', 't', text, '{}'));
    }
  });

  it('leaves to the way of strings what it does not read plainly, which still hashes as the values', () => {
    const texts = [
      '{"b": 1, "a": 2, "b": 3}',
      '{"a": 1, "b": 2, "a": 3}',
      '{"\\u0061": 1}',
      '{"\ud83d\ude00": 1, "\uffff": 2}',
      '"a\ud800b"',
      '"\ufffd"',
      '{"a":\n1}',
    ];
    for (const text of texts) {
      expect(made('i', 't', text, '{}')).toBeNull();
      expect(contentHashOfText({ id: 'i', type: 't', dataText: text, metadataText: '{}' })).toBe(
        contentHash({ id: 'i', type: 't', data: JSON.parse(text) as JsonValue, metadata: {} }),
      );
    }
    // An id or a type with a lone surrogate is printed escaped, as JSON.stringify prints it.
    expect(made('a\ud800', 't', '{}', '{}')).toBe(expected('a\ud800', 't', '{}', '{}'));
    for (const text of ['', '{', '{"a" 1}', '{"a": 1,}', '[1 2]', 'nul', '"open', '01', '1.', '+1', '{"a": 1} x', '"a\u0001b"', '"\\x"', '[tru]']) {
      expect(made('i', 't', text, '{}')).toBeNull();
      expect(() => contentHashOfText({ id: 'i', type: 't', dataText: text, metadataText: '{}' })).toThrow(SyntaxError);
    }
  });

  it('makes each call anew over the bytes of the one before, however large', () => {
    const large = JSON.stringify({ items: Array.from({ length: 10000 }, (_, n) => ({ n, name: `item ${n}`, tags: ['é', n % 7] })) });
    expect(made('i', 't', large, '{}')).toBe(expected('i', 't', large, '{}'));
    expect(made('j', 'u', '{"b": 2, "a": 1}', '{}')).toBe('{"data":{"a":1,"b":2},"id":"j","metadata":{},"type":"u"}');
  });
});
