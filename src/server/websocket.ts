import type { Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode, handleProtocols } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../core/logger';
import { graphqlWsServer, type GraphQLWsOptions, type SocketExtra } from './graphql-ws-server';
import { BODY_LIMIT_BYTES } from './http-errors';
import { SocketQuota } from './socket-quota';
import { CLOSE_TOO_MANY_CONNECTIONS, CLOSE_TOO_SLOW } from './websocket-limits';

const KEEP_ALIVE_MS = 12_000;
/** How long a dropped client has to take the close frame before its socket is cut. */
const DROP_GRACE_MS = 2_000;

export interface WebSocketEdge {
  dispose(): Promise<void>;
}

/**
 * graphql-ws over `ws` on the HTTP server's path, held to the same bounds as HTTP: a message is
 * at most the body limit (larger ones close the socket with 1009), only text frames are read, the
 * sockets are counted, and a client that does not read what it asked for is dropped rather than
 * buffered for. Nothing a client sends is printed.
 */
export function startWebSocket(http: HttpServer, path: string, options: Omit<GraphQLWsOptions, 'quota'>): WebSocketEdge {
  const { logger, refusals, socketLimits } = options;
  const sockets = new WebSocketServer({ server: http, path, maxPayload: BODY_LIMIT_BYTES, handleProtocols: (protocols) => handleProtocols(protocols) });
  const protocol = graphqlWsServer({ ...options, quota: new SocketQuota(socketLimits) });
  // The HTTP server's own errors (a port in use) are reported where it listens.
  sockets.on('error', () => undefined);

  // Sockets let in, and those not yet signed in by the address they come from, each counted until
  // it has closed: one client without a token cannot take every socket of the server.
  let live = 0;
  const waiting = new Map<string, Set<SocketExtra>>();
  sockets.on('connection', (socket, upgrade) => {
    socket.on('error', (error) => refusals.count(`ws ${error.name}`));
    if (live >= socketLimits.maxConnections) {
      refusals.count('ws connections');
      closeSoon(socket, CLOSE_TOO_MANY_CONNECTIONS, 'Too many connections');
      return;
    }
    const address = upgrade.socket.remoteAddress ?? 'unknown';
    const unsigned = [...(waiting.get(address) ?? [])].filter((other) => other.tokenId === undefined);
    if (unsigned.length >= socketLimits.maxWaitingPerAddress) {
      refusals.count('ws connections waiting to sign in');
      closeSoon(socket, CLOSE_TOO_MANY_CONNECTIONS, 'Too many connections waiting to sign in');
      return;
    }
    live += 1;
    options.metrics?.connectionOpened();
    const extra: SocketExtra = { isOpen: () => socket.readyState === socket.OPEN, close: (code, reason) => closeSoon(socket, code, reason) };
    waiting.set(address, new Set([...unsigned, extra]));
    const stopKeepAlive = keepAlive(socket);
    const closed = protocol.opened(
      {
        protocol: socket.protocol,
        send: (data) => send(socket, data, socketLimits.maxBufferedBytes, refusals),
        close: (code, reason) => closeSoon(socket, code, reason),
        onMessage: (handle) =>
          socket.on('message', (data, isBinary) => {
            if (isBinary) {
              refusals.count('ws binary messages');
              closeSoon(socket, CloseCode.BadRequest, 'Only text messages are accepted');
              return;
            }
            const text = String(data);
            if (!fromClient(text)) {
              refusals.count('ws messages a client does not send');
              closeSoon(socket, CloseCode.BadRequest, 'Invalid message received');
              return;
            }
            handle(text).catch((error: unknown) => failed(socket, error, logger));
          }),
      },
      extra,
    );
    socket.once('close', (code, reason) => {
      live -= 1;
      options.metrics?.connectionClosed();
      stopKeepAlive();
      waiting.get(address)?.delete(extra);
      if (waiting.get(address)?.size === 0) waiting.delete(address);
      void closed(code, String(reason)).catch((error: unknown) => logger.error('WebSocket close failed', { error: nameOf(error) }));
    });
  });

  return {
    // ws calls back once every socket has closed: one that does not answer the close frame is cut.
    async dispose() {
      for (const client of sockets.clients) client.close(1001, 'Going away');
      const cut = setTimeout(
        () =>
          sockets.clients.forEach((client) => {
            client.terminate();
          }),
        DROP_GRACE_MS,
      );
      await new Promise<void>((resolve) => sockets.close(() => resolve()));
      clearTimeout(cut);
    },
  };
}

/** Closes a socket, and cuts it if the client does not answer the close frame in time: ws would wait 30 s. */
function closeSoon(socket: WebSocket, code?: number, reason?: string): void {
  socket.close(code, reason);
  setTimeout(() => socket.terminate(), DROP_GRACE_MS).unref();
}

/**
 * Queues the message without waiting for the client to read it, so that a subscription never
 * stalls holding events for a slow reader; a reader that falls past the bound is dropped.
 */
function send(socket: WebSocket, data: string, maxBufferedBytes: number, refusals: GraphQLWsOptions['refusals']): void {
  if (socket.readyState !== socket.OPEN) return;
  if (socket.bufferedAmount + data.length > maxBufferedBytes) {
    refusals.count('ws slow readers');
    closeSoon(socket, CLOSE_TOO_SLOW, 'Too slow: the client does not read its messages');
    return;
  }
  corkedUntilTicksEnd(socket);
  socket.send(data);
}

/** What ws keeps of the TCP socket under a WebSocket (not in its typings). */
const corked = new WeakSet<Duplex>();

/**
 * Frames sent in one go (the subscribers of one event that a turn serves) leave in one write
 * rather than one system call each: the socket is corked until the current tick's work is done.
 */
function corkedUntilTicksEnd(socket: WebSocket): void {
  const raw = (socket as unknown as { _socket?: Duplex })._socket;
  if (!raw || corked.has(raw)) return;
  corked.add(raw);
  raw.cork();
  process.nextTick(() => {
    corked.delete(raw);
    raw.uncork();
  });
}

/** Pings the client, and cuts it when a pong does not come back in time. */
function keepAlive(socket: WebSocket): () => void {
  let pongWait: NodeJS.Timeout | null = null;
  const ping = setInterval(() => {
    if (socket.readyState !== socket.OPEN) return;
    pongWait = setTimeout(() => socket.terminate(), KEEP_ALIVE_MS);
    socket.once('pong', () => {
      if (pongWait) clearTimeout(pongWait);
      pongWait = null;
    });
    socket.ping();
  }, KEEP_ALIVE_MS);
  return () => {
    clearInterval(ping);
    if (pongWait) clearTimeout(pongWait);
  };
}

/** The messages of graphql-ws's protocol that a client sends; the others are the server's. */
const CLIENT_MESSAGES = new Set(['connection_init', 'ping', 'pong', 'subscribe', 'complete']);

/**
 * False for a message of the protocol that only a server sends (`next`, `connection_ack`, …):
 * graphql-ws throws on it, which would read as the server's failure. Anything else, JSON or not,
 * is graphql-ws's to judge (it closes 4400 on what it cannot read).
 */
function fromClient(text: string): boolean {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return true;
  }
  const type = (message as { type?: unknown } | null)?.type;
  return typeof type !== 'string' || CLIENT_MESSAGES.has(type);
}

/** A message the server failed on: one line with the error's name, never the message's text. */
function failed(socket: WebSocket, error: unknown, logger: Logger): void {
  logger.error('WebSocket message failed', { error: nameOf(error) });
  socket.close(CloseCode.InternalServerError, 'Internal server error');
}

function nameOf(error: unknown): string {
  return error instanceof Error ? error.name : 'unknown';
}
