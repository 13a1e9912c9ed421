import type { RequestHandler } from 'express';
import { signingKeysDocument } from '../app/audit-digests';
import type { AppDeps } from '../app/deps';
import { loggedError, type Logger } from '../core/logger';

export const AUDIT_KEYS_PATH = '/.well-known/backplane-audit-keys.json';

/**
 * The public keys of the audit digests, retired ones included, for anyone to verify a digest
 * with: no token, as a public key is public. A short cache lets a rotation show within a minute.
 */
export function auditKeys(app: AppDeps, logger: Logger): RequestHandler {
  return async (_req, res) => {
    try {
      const document = await signingKeysDocument(app);
      res.set('cache-control', 'public, max-age=60').json(document);
    } catch (error) {
      logger.error('audit keys document failed', { error: loggedError(error) });
      res.status(503).json({ error: 'the audit keys cannot be read now' });
    }
  };
}
