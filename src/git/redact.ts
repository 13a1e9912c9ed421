/** Longest stretch of git's own words kept for a message. */
const MAX_TEXT = 500;

/**
 * A text of git's (stderr, a URL) with every form of `token` removed, and every Authorization
 * header value and URL userinfo, whichever token they carry: git echoes URLs and, traced, headers.
 */
export function redact(text: string, token?: string): string {
  let out = text;
  for (const secret of secretForms(token)) out = out.split(secret).join('[redacted]');
  out = out.replace(/(authorization\s*:\s*)[^\r\n]*/gi, '$1[redacted]');
  out = out.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@'"]*@/gi, '$1');
  return out.length > MAX_TEXT ? `${out.slice(0, MAX_TEXT)}…` : out;
}

/** The token and the encodings a Basic header carries it in, longest first so none is left in part. */
function secretForms(token?: string): string[] {
  if (!token) return [];
  const forms = [token, basicCredentials(token), Buffer.from(token).toString('base64'), encodeURIComponent(token)];
  return [...new Set(forms.filter((form) => form.length >= 4))].sort((a, b) => b.length - a.length);
}

/** GitLab takes any token as the password of HTTP Basic; the user name `oauth2` is accepted for every kind. */
export function basicCredentials(token: string): string {
  return Buffer.from(`oauth2:${token}`).toString('base64');
}

/** A URL as it may be written in a message or a config file: without user or password. */
export function withoutUserinfo(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return redact(url);
  }
}
