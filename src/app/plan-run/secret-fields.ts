/**
 * GitLab's project answer holds secrets for a maintainer's token: `runners_token` (registers
 * runners to the project), and other `*_token` fields in some versions and editions. A snapshot
 * keeps settings to restore and to read, never a credential: such fields are left out, at every
 * depth, before the answer is stored. `*_token_*` settings (`ci_job_token_scope_enabled`) are
 * switches, not secrets, and stay.
 */
const SECRET_KEY = /(^|_)(token|secret|password)s?$/i;

/**
 * Addresses can carry credentials too: `import_url` holds a pull mirror's, and GitLab strips
 * only `user:password@`, and only from URLs its sanitiser accepts (a token in the query stays).
 */
const URL_KEY = /(^|_)url$/i;

export function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value === null || typeof value !== 'object') return value;
  const kept: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (SECRET_KEY.test(key)) continue;
    if (URL_KEY.test(key) && typeof field === 'string') {
      const address = withoutCredentials(field);
      if (address !== null) kept[key] = address;
      continue;
    }
    kept[key] = withoutSecrets(field);
  }
  return kept;
}

/**
 * The address without user, password, query or fragment; null (the field is left out) for a
 * string that is not an absolute URL with a host, since what it hides cannot be told apart from the rest.
 */
function withoutCredentials(text: string): string | null {
  if (text === '') return text;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  // Without a host (`user:password@host:path` reads as scheme `user:`), nothing in it is known to be the address.
  if (url.host === '') return null;
  // An address with nothing to strip is kept as GitLab wrote it (not normalised).
  if (url.username === '' && url.password === '' && url.search === '' && url.hash === '') return text;
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';
  return url.href;
}
