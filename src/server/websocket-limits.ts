/** What one WebSocket client, one token and all clients together may hold of the server. */
export interface WebSocketLimits {
  /** How long a new socket has to send a connection_init with a valid token (ms). */
  initTimeoutMs: number;
  /** Open sockets, authenticated or not. */
  maxConnections: number;
  /** Sockets of one address that have not signed in yet: one client without a token cannot take every socket. */
  maxWaitingPerAddress: number;
  /** Authenticated sockets of one API token. */
  maxConnectionsPerToken: number;
  /** Operations (subscriptions, and queries still running) at once on one socket. */
  maxSubscriptionsPerConnection: number;
  /** Operations at once over all the sockets of one API token. */
  maxSubscriptionsPerToken: number;
  /** Bytes waiting to be sent to a client that does not read, past which it is dropped. */
  maxBufferedBytes: number;
}

export const DEFAULT_WEBSOCKET_LIMITS: WebSocketLimits = {
  initTimeoutMs: 3_000,
  maxConnections: 1_000,
  maxWaitingPerAddress: 16,
  maxConnectionsPerToken: 20,
  maxSubscriptionsPerConnection: 100,
  maxSubscriptionsPerToken: 500,
  maxBufferedBytes: 8 * 1024 * 1024,
};

/** Close codes of Backplane's own; graphql-ws's (4400 bad message, 4403 refused connection_init, 4408 no init in time) stay as they are. */
export const CLOSE_TOO_MANY_CONNECTIONS = 4420;
export const CLOSE_TOO_SLOW = 4421;

/** WebSocket's own "Try Again Later": the server cannot take the socket now (a token not known yet while the read models catch up). */
export const CLOSE_TRY_AGAIN_LATER = 1013;
