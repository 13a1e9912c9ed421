import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Hook {
  path: string;
  eventId: string;
  kind: string;
  body: { text: string; kind: string; eventId: string; eventType: string; tenantId: string; recordedAt: string; fields: Record<string, unknown> };
}

/** A webhook receiver as a real HTTP server: `answer` picks each request's status; `received` keeps every request, `accepted` the 2xx ones. */
export async function startHookReceiver(answer: (request: number) => number = () => 200) {
  const received: Hook[] = [];
  const accepted: Hook[] = [];
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const hook: Hook = {
        path: request.url ?? '',
        eventId: String(request.headers['x-backplane-event-id']),
        kind: String(request.headers['x-backplane-notification-kind']),
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      };
      received.push(hook);
      const status = answer(received.length);
      if (status >= 200 && status < 300) accepted.push(hook);
      response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    received,
    accepted,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Mail {
  from: string;
  to: string[];
  raw: string;
  /** The body as written: quoted-printable decoded, soft line breaks joined. */
  text: string;
}

/** The body of a single-part text message, decoded from quoted-printable (RFC 2045) as any mail reader would. */
function bodyText(raw: string): string {
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  if (!/content-transfer-encoding: quoted-printable/i.test(raw)) return body;
  return body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/**
 * A real SMTP server (smtp-server) that takes mail only from the user and password it was given.
 * While `refusing` is above zero, each message is refused with a 451 (and the count goes down).
 */
export async function startSmtpReceiver(user: string, password: string, host = '127.0.0.1') {
  const mails: Mail[] = [];
  const refused: Mail[] = [];
  const control = { refusing: 0 };
  const logins: string[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, callback) {
      logins.push(String(auth.username));
      if (auth.username === user && auth.password === password) callback(null, { user });
      else callback(new Error('invalid login'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const mail = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((to) => to.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          text: bodyText(Buffer.concat(chunks).toString('utf8')),
        };
        if (control.refusing > 0) {
          control.refusing -= 1;
          refused.push(mail);
          callback(Object.assign(new Error('mailbox busy, secret-server-detail'), { responseCode: 451 }));
          return;
        }
        mails.push(mail);
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return { port, mails, refused, control, logins, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
