import WebSocket from 'ws';

export interface RawSocket {
  socket: WebSocket;
  /** The messages the server sent, parsed. */
  messages: { type: string; id?: string; payload?: any }[];
  /** Settles with the close code and reason once the socket is closed, by either side. */
  closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
  /** Sends connection_init with the token and waits for connection_ack. */
  init(token: string | null): Promise<void>;
  /** Waits for a message that passes the check. */
  next(check: (message: { type: string; id?: string; payload?: any }) => boolean, timeoutMs?: number): Promise<{ type: string; id?: string; payload?: any }>;
}

/** A graphql-transport-ws socket driven frame by frame, to send what a well-behaved client never would. */
export async function openRawSocket(url: string, protocol = 'graphql-transport-ws'): Promise<RawSocket> {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), protocol);
  const messages: RawSocket['messages'] = [];
  const waiters = new Set<() => void>();
  socket.on('message', (data) => {
    messages.push(JSON.parse(String(data)));
    waiters.forEach((wake) => {
      wake();
    });
  });
  socket.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', () => reject(new Error('the upgrade was refused')));
    socket.once('close', () => resolve());
  });
  const next: RawSocket['next'] = (check, timeoutMs = 10_000) =>
    new Promise((resolve, reject) => {
      const look = () => {
        const found = messages.find(check);
        if (!found) return;
        waiters.delete(look);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(look);
        reject(new Error(`no such message; received ${JSON.stringify(messages).slice(0, 500)}`));
      }, timeoutMs);
      waiters.add(look);
      void closed.then(look);
      look();
    });
  return {
    socket,
    messages,
    closed,
    send: (message) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
    async init(token) {
      socket.send(JSON.stringify({ type: 'connection_init', payload: token === null ? {} : { authorization: `Bearer ${token}` } }));
      await next((message) => message.type === 'connection_ack');
    },
    next,
  };
}
