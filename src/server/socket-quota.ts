import type { WebSocketLimits } from './websocket-limits';

/** What the quota needs of a graphql-ws connection: its operations, keyed by id. */
interface Connection {
  readonly subscriptions: Record<string, unknown>;
}

/** Counts each token's sockets and their operations, so that no token holds more than its share. */
export class SocketQuota {
  private readonly byToken = new Map<string, Set<Connection>>();

  constructor(private readonly limits: WebSocketLimits) {}

  /** Takes a socket into the token's count, or refuses it when the token has its fill. */
  admit(tokenId: string, connection: Connection): boolean {
    const connections = this.byToken.get(tokenId) ?? new Set();
    if (connections.size >= this.limits.maxConnectionsPerToken) return false;
    this.byToken.set(tokenId, connections.add(connection));
    return true;
  }

  leave(tokenId: string, connection: Connection): void {
    const connections = this.byToken.get(tokenId);
    connections?.delete(connection);
    if (connections?.size === 0) this.byToken.delete(tokenId);
  }

  /** Why the operation just started on the connection is one too many; null when it fits. */
  refusal(tokenId: string, connection: Connection): string | null {
    const { maxSubscriptionsPerConnection: perConnection, maxSubscriptionsPerToken: perToken } = this.limits;
    if (Object.keys(connection.subscriptions).length > perConnection) return `too many operations on this connection: the limit is ${perConnection}`;
    let total = 0;
    for (const other of this.byToken.get(tokenId) ?? []) total += Object.keys(other.subscriptions).length;
    return total > perToken ? `too many operations for this API token: the limit is ${perToken} over all its connections` : null;
  }
}
