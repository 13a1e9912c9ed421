import { basicCredentials, redact, withoutUserinfo } from '../../src/git/redact';

const TOKEN = 'made-up-Secret-0123456789';

describe('redact', () => {
  it('removes the token itself', () => {
    expect(redact(`fatal: bad token ${TOKEN} given`, TOKEN)).toBe('fatal: bad token [redacted] given');
  });

  it('removes the base64 of oauth2:token and of the token alone', () => {
    const basic = Buffer.from(`oauth2:${TOKEN}`).toString('base64');
    const bare = Buffer.from(TOKEN).toString('base64');
    const out = redact(`sent ${basic} and ${bare}`, TOKEN);
    expect(out).not.toContain(basic);
    expect(out).not.toContain(bare);
    expect(out).toBe('sent [redacted] and [redacted]');
    expect(basicCredentials(TOKEN)).toBe(basic);
  });

  it("removes the value of any Authorization header, whoever's token it carries", () => {
    const out = redact('> GET /x.git/info/refs HTTP/1.1\n> Authorization: Basic b3RoZXI6c2VjcmV0\n> Accept: */*', undefined);
    expect(out).toBe('> GET /x.git/info/refs HTTP/1.1\n> Authorization: [redacted]\n> Accept: */*');
    expect(redact('authorization:Bearer glpat-abc', undefined)).toBe('authorization:[redacted]');
  });

  it('removes user and password from URLs, and keeps the rest of the URL', () => {
    const out = redact("fatal: unable to access 'https://oauth2:glpat-xyz@gitlab.example.com/a/b.git/': 403", undefined);
    expect(out).toBe("fatal: unable to access 'https://gitlab.example.com/a/b.git/': 403");
    expect(redact('http://user@host:8080/p.git', undefined)).toBe('http://host:8080/p.git');
    expect(redact('see https://host/path@v1', undefined)).toBe('see https://host/path@v1');
  });

  it('cuts a long text to about 500 characters', () => {
    const out = redact('x'.repeat(2000));
    expect(out.length).toBeLessThanOrEqual(501);
    expect(out.endsWith('…')).toBe(true);
  });

  it('removes the token even where it would have been cut in half at the limit', () => {
    const out = redact(`${'x'.repeat(490)}${TOKEN}`, TOKEN);
    expect(out).not.toContain(TOKEN.slice(0, 8));
  });

  it('writes a URL without user or password', () => {
    expect(withoutUserinfo('https://oauth2:tok@gitlab.example.com/a/b.git')).toBe('https://gitlab.example.com/a/b.git');
    expect(withoutUserinfo('https://gitlab.example.com/a/b.git')).toBe('https://gitlab.example.com/a/b.git');
  });
});
