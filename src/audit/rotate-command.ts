import { openDatabase } from '../backplane';
import { describeStore, type Config } from '../config';
import { rotateAuditKey } from './signing-keys';

/**
 * `backplane rotate-audit-key`: retires the signing key of the audit digests and makes a new one
 * (or takes BACKPLANE_AUDIT_SIGNING_KEY's, when set). Run it with the data folder of the servers
 * that sign; servers on PostgreSQL sign with the new key from their next digest.
 */
export async function rotateAuditKeyCommand(config: Config): Promise<number> {
  const db = await openDatabase(config);
  try {
    process.stderr.write(`store: ${describeStore(config)}\n`);
    const { retired, active } = await rotateAuditKey(db, { pem: config.auditSigningKey, dataDir: config.dataDir });
    process.stdout.write(`${retired ? `retired audit signing key ${retired}; ` : ''}digests are signed with key ${active} from now on\n`);
    return 0;
  } finally {
    await db.close();
  }
}
