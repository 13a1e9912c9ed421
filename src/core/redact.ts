import type { JsonValue } from '../eventstore/types';

/** Keys whose values are secrets by name; ids of secrets (passwordId, secretId, tokenId) are not. */
const SECRET_KEY = /^(secret|password|passphrase|token|digest|.+(Secret|Password|Token|Digest))$/i;
const ID_KEY = /Id$/;

export const REDACTED = '[redacted]';

/**
 * Event data as shown to people. Backplane's own events carry no secret; this is the second
 * line, so that a secret a future event might carry by mistake is not served.
 */
export function redact(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== 'object') return value;
  const shown: { [key: string]: JsonValue } = {};
  for (const [key, inner] of Object.entries(value)) {
    const value = isSecretKey(key) ? REDACTED : redact(inner);
    // A key `__proto__` (JSON.parse makes it an own key) is defined: assigned, it would set the prototype.
    if (key === '__proto__') Object.defineProperty(shown, key, { value, enumerable: true, writable: true, configurable: true });
    else shown[key] = value;
  }
  return shown;
}

/** Whether redact() would change the value: a key of a secret's name at any depth. */
export function hidesSecret(value: JsonValue): boolean {
  if (Array.isArray(value)) return value.some(hidesSecret);
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([key, inner]) => isSecretKey(key) || hidesSecret(inner));
}

function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !ID_KEY.test(key);
}
