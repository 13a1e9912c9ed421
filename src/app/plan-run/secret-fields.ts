/**
 * GitLab's project answer holds secrets for a maintainer's token: `runners_token` (registers
 * runners to the project), and other `*_token` fields in some versions and editions. A snapshot
 * keeps settings to restore and to read, never a credential: such fields are left out, at every
 * depth, before the answer is stored. `*_token_*` settings (`ci_job_token_scope_enabled`) are
 * switches, not secrets, and stay.
 */
const SECRET_KEY = /(^|_)(token|secret|password)s?$/i;

export function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value === null || typeof value !== 'object') return value;
  const kept: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) if (!SECRET_KEY.test(key)) kept[key] = withoutSecrets(field);
  return kept;
}
