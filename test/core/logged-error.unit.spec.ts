import { loggedError } from '../../src/core/logger';

describe('an unexpected error as a log line holds it', () => {
  it('keeps nothing of what a driver quotes of the values it refused', () => {
    const error = new Error('invalid input syntax for type uuid: "glpat-secret-value-1234"');
    expect(loggedError(error)).toBe('Error: invalid input syntax for type uuid: …');
  });

  it('keeps nothing after a quotation mark, even one with unescaped quotes inside', () => {
    expect(loggedError(new Error('invalid input syntax for type uuid: "hunter"2secret"'))).toBe('Error: invalid input syntax for type uuid: …');
  });

  it('stops at single and back quotes too, but not at an apostrophe', () => {
    expect(loggedError(new TypeError("can't read 'secret' of x"))).toBe("TypeError: can't read …");
    expect(loggedError(new TypeError('cannot read `secret`'))).toBe('TypeError: cannot read …');
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
