import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { notificationSenders, type Outgoing } from '../../src/app/notifications/senders';
import { SecretVault } from '../../src/secrets/vault';
import { PgliteDatabase } from '../../src/sql/pglite-database';
import { startSmtpReceiver } from './receivers';

/** An address of this machine that is not loopback: what a mail server elsewhere looks like to the sender. */
function outsideAddress(): string {
  const found = Object.values(networkInterfaces())
    .flat()
    .find((entry) => entry !== undefined && entry.family === 'IPv4' && !entry.internal);
  if (!found) throw new Error('this machine has no IPv4 address other than loopback: the test needs one');
  return found.address;
}

const outgoing: Outgoing = {
  notice: { kind: 'TASK_FAILED', text: 'the nightly run failed', fields: { plan: 'nightly' } },
  eventId: '3f2b8e1c-0000-4000-8000-000000000001',
  eventType: 'BackupTaskFailed',
  tenantId: 'default',
  recordedAt: '2026-12-05T10:00:00.000Z',
} as Outgoing;

describe('e-mail notices and the SMTP login', () => {
  const user = 'mailer';
  const password = `pw-${randomBytes(8).toString('hex')}`;
  let db: PgliteDatabase;
  let vault: SecretVault;
  let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;

  beforeAll(async () => {
    db = await PgliteDatabase.open();
    vault = await SecretVault.open(db, randomBytes(32));
    // A server that offers no STARTTLS and takes a login in clear: what an attacker stripping the offer looks like.
    smtp = await startSmtpReceiver(user, password, '0.0.0.0');
  });
  afterAll(async () => {
    await smtp?.close();
    await db?.close();
  });

  it('never sends the password in clear to a server elsewhere: STARTTLS is required, and the notice fails', async () => {
    const senders = notificationSenders({ host: outsideAddress(), port: smtp.port, user, password, from: 'backplane@example.test' }, vault, 5_000);
    try {
      const outcome = await senders.send({ type: 'EMAIL', address: 'ops@example.test' }, outgoing);
      expect(outcome.ok).toBe(false);
      expect(JSON.stringify(outcome)).not.toContain(password);
      expect(smtp.logins).toEqual([]);
      expect(smtp.mails).toEqual([]);
    } finally {
      senders.close();
    }
  });

  it('logs in without TLS only to this very machine', async () => {
    const senders = notificationSenders({ host: '127.0.0.1', port: smtp.port, user, password, from: 'backplane@example.test' }, vault, 5_000);
    try {
      expect(await senders.send({ type: 'EMAIL', address: 'ops@example.test' }, outgoing)).toEqual({ ok: true });
      expect(smtp.logins).toEqual([user]);
      expect(smtp.mails.map((mail) => mail.to)).toEqual([['ops@example.test']]);
    } finally {
      senders.close();
    }
  });
});
