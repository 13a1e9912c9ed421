import { parse } from 'graphql';
import { CheckedDocuments } from '../../src/server/graphql-ws-server';

describe('CheckedDocuments', () => {
  const text = (n: number) => `{ q${n}: me { name } }`;

  it('lets go of the document used least recently when full, not of the first one kept', () => {
    const documents = new CheckedDocuments(3);
    const hot = parse(text(0));
    documents.keep(text(0), hot);
    documents.keep(text(1), parse(text(1)));
    documents.keep(text(2), parse(text(2)));
    // The first one kept is in use: a stream of new texts does not push it out.
    for (let n = 3; n < 10; n += 1) {
      expect(documents.get(text(0))).toBe(hot);
      documents.keep(text(n), parse(text(n)));
    }
    expect(documents.size).toBe(3);
    expect(documents.get(text(0))).toBe(hot);
    expect(documents.get(text(9))).toBeDefined();
    expect(documents.get(text(8))).toBeDefined();
    expect(documents.get(text(7))).toBeUndefined();
    expect(documents.get(text(1))).toBeUndefined();
  });

  it('keeps no text longer than its limit, and one text once', () => {
    const documents = new CheckedDocuments(3, 20);
    const short = '{ me { name } }';
    const long = `{ me { name } ${' '.repeat(20)}}`;
    documents.keep(long, parse(long));
    expect(documents.get(long)).toBeUndefined();
    const first = parse(short);
    documents.keep(short, first);
    documents.keep(short, parse(short));
    expect(documents.size).toBe(1);
    expect(documents.get(short)).toBe(first);
  });
});
