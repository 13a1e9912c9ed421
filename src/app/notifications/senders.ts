import type { createTransport } from 'nodemailer';
import type { NotificationTarget } from '../../domain/notification-channel';
import type { SecretVault } from '../../secrets/vault';
import { type PostOutcome, postSigned } from '../audit-delivery/post';
import type { Notice } from './notices';

/** The SMTP server notices go out through; the password is handed to the transport only, never logged or shown. */
export interface SmtpSettings {
  /** smtp:// or smtps://, user and password included; else host and port. */
  url?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  /** The sender's address. */
  from: string;
}

/** A notice as it goes out, with the event it came from. */
export interface Outgoing {
  notice: Notice;
  eventId: string;
  eventType: string;
  tenantId: string;
  recordedAt: string;
}

export interface Senders {
  send(target: NotificationTarget, outgoing: Outgoing): Promise<PostOutcome>;
  close(): void;
}

/**
 * A webhook gets Slack's incoming-webhook shape (`text`) with the notice's facts beside it, and
 * the event's id as a header to deduplicate by; an e-mail, the same in plain text. Failures are
 * said in a few words (a status, an SMTP code), never quoting an answer.
 */
export function notificationSenders(smtp: SmtpSettings | null, vault: SecretVault, timeoutMs: number): Senders {
  let mailer: ReturnType<typeof createTransport> | undefined;
  const transport = (settings: SmtpSettings) => {
    if (mailer) return mailer;
    const timeouts = { connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs, logger: false, debug: false };
    // Loaded at the first mail: most installations send none, and it takes some 10 MB of the process.
    const { createTransport: create } = require('nodemailer') as typeof import('nodemailer');
    mailer = settings.url
      ? create({ url: settings.url, ...timeouts, ...tlsOfUrl(new URL(settings.url)) })
      : create({
          host: settings.host,
          port: settings.port,
          auth: settings.user ? { user: settings.user, pass: settings.password ?? '' } : undefined,
          ...timeouts,
          ...tlsOf(settings.host ?? '', settings.port === 465, settings.user !== undefined && settings.user !== ''),
        });
    return mailer;
  };

  return {
    async send(target, outgoing) {
      if (target.type === 'WEBHOOK') {
        const body = JSON.stringify({
          text: `[Backplane] ${outgoing.notice.text}`,
          kind: outgoing.notice.kind,
          eventId: outgoing.eventId,
          eventType: outgoing.eventType,
          tenantId: outgoing.tenantId,
          recordedAt: outgoing.recordedAt,
          fields: outgoing.notice.fields,
        });
        // Read at each attempt, as a SIEM destination's secret is: the URL is copied nowhere.
        let url: string;
        try {
          url = await vault.reveal(outgoing.tenantId, target.urlSecretId);
        } catch {
          return { ok: false, error: "the webhook's URL is gone from the vault: add the channel again" };
        }
        return postSigned(url, body, { 'x-backplane-event-id': outgoing.eventId, 'x-backplane-notification-kind': outgoing.notice.kind }, timeoutMs);
      }
      if (smtp === null) return { ok: false, error: 'no SMTP server configured (BACKPLANE_SMTP_URL or BACKPLANE_SMTP_HOST)' };
      try {
        await transport(smtp).sendMail({
          from: smtp.from,
          to: target.address,
          subject: `[Backplane] ${outgoing.notice.kind}: ${outgoing.notice.text}`.slice(0, 200),
          text: mailText(outgoing),
          headers: { 'X-Backplane-Event-Id': outgoing.eventId, 'X-Backplane-Notification-Kind': outgoing.notice.kind },
        });
        return { ok: true };
      } catch (error) {
        return { ok: false, error: smtpFailure(error) };
      }
    },
    close() {
      mailer?.close();
    },
  };
}

/**
 * A login goes over TLS from the first byte (smtps, port 465) or after a required STARTTLS:
 * nodemailer otherwise upgrades only when the server offers it, and an offer stripped on the way
 * would send the password in clear. Plain SMTP with a login only to this very machine, as webhooks
 * may use http only there.
 */
function tlsOf(host: string, implicit: boolean, login: boolean): { secure: boolean; requireTLS: boolean } {
  if (implicit) return { secure: true, requireTLS: false };
  return { secure: false, requireTLS: login && !LOOPBACK.test(host.replace(/^\[|\]$/g, '')) };
}

function tlsOfUrl(url: URL): { secure: boolean; requireTLS: boolean } {
  return tlsOf(url.hostname, url.protocol === 'smtps:', url.username !== '');
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1)$/i;

function mailText({ notice, eventId, eventType, tenantId, recordedAt }: Outgoing): string {
  const facts = Object.entries(notice.fields).map(([name, value]) => `${name}: ${value}`);
  return [notice.text, '', `kind: ${notice.kind}`, `event: ${eventType} ${eventId}`, `tenant: ${tenantId}`, `recorded at: ${recordedAt}`, ...facts, ''].join(
    '\n',
  );
}

/** nodemailer's messages can quote the server's answer and the login: only its code and the SMTP status are kept. */
function smtpFailure(error: unknown): string {
  const { code, responseCode } = (error ?? {}) as { code?: unknown; responseCode?: unknown };
  const parts = ['SMTP failure'];
  if (typeof code === 'string' && /^[A-Z_]+$/.test(code)) parts.push(code);
  if (typeof responseCode === 'number') parts.push(`answered ${responseCode}`);
  return parts.join(' ');
}
