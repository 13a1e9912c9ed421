import { loggedError } from '../../src/core/logger';

describe('an unexpected error as a log line holds it', () => {
  it('blanks what a driver quotes of the values it refused', () => {
    const error = new Error('invalid input syntax for type uuid: "glpat-secret-value-1234"');
    expect(loggedError(error)).toBe('Error: invalid input syntax for type uuid: "…"');
  });

  it('blanks single-quoted and back-quoted parts too, escaped quotes and all', () => {
    const error = new TypeError(`can't read 'a\\'b' of \`x\` and "say \\"hi\\""`);
    expect(loggedError(error)).toBe(`TypeError: can't read '…' of \`…\` and "…"`);
  });

  it('keeps it on one line and short, whatever it said', () => {
    const error = new RangeError(`line one\n    at somewhere (/srv/app.js:1:2)\n${'x'.repeat(5_000)}`);
    const line = loggedError(error);
    expect(line).not.toContain('\n');
    expect(line.length).toBeLessThanOrEqual(301);
    expect(line.startsWith('RangeError: line one at somewhere')).toBe(true);
  });

  it('says nothing of what is not an error', () => {
    expect(loggedError({ secret: 'glpat-x' })).toBe('unknown error');
    expect(loggedError('glpat-x')).toBe('unknown error');
  });
});
