import { canonicalJson, canonicalJsonOfText } from '../../src/eventstore/canonical-json';
import { contentHash, contentHashOfText } from '../../src/eventstore/hash-chain';
import type { JsonValue } from '../../src/eventstore/types';
import { seeded } from '../support/bad-inputs';
import { jsonString, jsonValue } from '../support/json-values';

/** Printed with the given separators, members in the given order: as JSON.stringify, indented, or as jsonb prints. */
function printed(value: JsonValue, order: (keys: string[]) => string[], comma: string, colon: string): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item) => printed(item, order, comma, colon)).join(comma)}]`;
  return `{${order(Object.keys(value))
    .map((key) => `${JSON.stringify(key)}${colon}${printed(value[key], order, comma, colon)}`)
    .join(comma)}}`;
}

/** jsonb's order: shorter keys first, then by bytes of UTF-8. */
const jsonbOrder = (keys: string[]) => [...keys].sort((a, b) => Buffer.byteLength(a) - Buffer.byteLength(b) || Buffer.compare(Buffer.from(a), Buffer.from(b)));
const reversed = (keys: string[]) => [...keys].reverse();

/** The same text with every character of every string escaped as a \u sequence. */
function escapedAll(text: string): string {
  return text.replace(/"(?:[^"\\]|\\.)*"/g, (literal) => {
    const decoded = JSON.parse(literal) as string;
    let out = '"';
    for (let i = 0; i < decoded.length; i++) out += `\\u${decoded.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return `${out}"`;
  });
}

describe('canonical JSON read from JSON text', () => {
  it('gives canonicalJson of the parsed value, byte for byte, for generated values printed every way', () => {
    const random = seeded(20261205);
    let compared = 0;
    for (let i = 0; i < 4000; i++) {
      const generated = jsonValue(random, 4);
      const texts = [
        JSON.stringify(generated),
        JSON.stringify(generated, null, 2),
        printed(generated, jsonbOrder, ', ', ': '),
        printed(generated, reversed, ' , ', '  :  '),
        escapedAll(JSON.stringify(generated)),
      ];
      for (const text of texts) {
        expect(canonicalJsonOfText(text)).toBe(canonicalJson(JSON.parse(text) as JsonValue));
        compared++;
      }
    }
    expect(compared).toBe(20000);
  });

  it('reads numbers as JSON.parse does, however they are written', () => {
    const numbers = ['0', '-0', '0.0', '1.0', '1.50', '1e21', '1E21', '1e+21', '1e-7', '-1e-7', '10e-1', '0.1', '1e400', '-1e400', '1e-400'];
    const more = ['123456789012345', '1234567890123456', '9007199254740993', '-9007199254740993', '100000000000000000000', '12345678901234567890123'];
    for (const number of [...numbers, ...more]) {
      for (const text of [number, `[${number}]`, `{"n": ${number}}`]) expect(canonicalJsonOfText(text)).toBe(canonicalJson(JSON.parse(text) as JsonValue));
    }
  });

  it('prints a lone surrogate escaped, as JSON.stringify does, when the text holds it raw', () => {
    for (const text of ['"a\ud800b"', '{"\udc00": "\ud83d\ude00", "x": ["\ud800"]}', '"\ud83d\ude00"']) {
      expect(canonicalJsonOfText(text)).toBe(canonicalJson(JSON.parse(text) as JsonValue));
    }
    expect(canonicalJsonOfText('"a\ud800b"')).toBe('"a\\ud800b"');
  });

  it('keeps the last of a repeated key, as JSON.parse does', () => {
    const text = '{"b": 1, "a": 2, "b": 3, "a": {"x": 1, "x": [2]}}';
    expect(canonicalJsonOfText(text)).toBe(canonicalJson(JSON.parse(text) as JsonValue));
    expect(canonicalJsonOfText(text)).toBe('{"a":{"x":[2]},"b":3}');
  });

  it('rejects what is not JSON as JSON.parse does', () => {
    for (const text of [
      '',
      '{',
      '{"a" 1}',
      '{"a": 1,}',
      '[1 2]',
      'nul',
      '"open',
      '01',
      '1.',
      '+1',
      '.5',
      '--1',
      '{"a": 1} x',
      "{'a': 1}",
      '"a\u0001b"',
      '"a\tb"',
      '"\\x"',
      '[tru]',
    ]) {
      expect(() => JSON.parse(text)).toThrow(SyntaxError);
      expect(() => canonicalJsonOfText(text)).toThrow(SyntaxError);
    }
  });

  it('hashes an event from its text as contentHash hashes it from its values', () => {
    const random = seeded(15);
    for (let i = 0; i < 500; i++) {
      const event = {
        id: jsonString(random),
        type: jsonString(random),
        data: jsonValue(random, 3),
        metadata: { tenantId: jsonString(random), actor: jsonValue(random, 2) },
      };
      const texts = { dataText: printed(event.data, jsonbOrder, ', ', ': '), metadataText: printed(event.metadata, jsonbOrder, ', ', ': ') };
      expect(contentHashOfText({ id: event.id, type: event.type, ...texts })).toBe(
        contentHash({ id: event.id, type: event.type, data: JSON.parse(texts.dataText), metadata: JSON.parse(texts.metadataText) }),
      );
    }
  });
});
