import { getOperationAST, type ExecutionArgs, type GraphQLSchema } from 'graphql';
import type { Metrics } from './metrics';
import { OTHER, operationLabel, operationType, outcomeOf } from './operation-label';

/**
 * GraphQL operations over graphql-ws, for the metrics: each is counted once, when it is refused
 * or has run (a subscription: once it has started), and open subscriptions are tracked per socket
 * so that a socket that closes takes its subscriptions off the gauge, whichever way it ends.
 */
export class SocketOperations {
  readonly #started = new WeakMap<object, Map<string, number>>();
  readonly #open = new WeakMap<object, Set<string>>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly metrics: Metrics | undefined,
  ) {}

  began(socket: object, id: string): void {
    if (!this.metrics) return;
    const started = this.#started.get(socket) ?? new Map<string, number>();
    started.set(id, performance.now());
    this.#started.set(socket, started);
  }

  /** Errors answered to an operation: a refusal before it ran, unless it is a subscription already open. */
  failed(socket: object, id: string, errors: readonly unknown[]): void {
    if (this.#open.get(socket)?.has(id)) return;
    this.#record(socket, id, { operation: OTHER, type: 'unknown', outcome: outcomeOf(errors) });
  }

  /** What execute or subscribe gave: a result, or a stream of them (a subscription now open). */
  ran(socket: object, id: string, args: ExecutionArgs, result: unknown): void {
    if (!this.metrics) return;
    const operation = getOperationAST(args.document, args.operationName);
    const labels = { operation: operationLabel(this.schema, operation), type: operationType(operation) };
    if (result !== null && typeof result === 'object' && Symbol.asyncIterator in result) {
      this.#record(socket, id, { ...labels, outcome: 'ok' });
      const open = this.#open.get(socket) ?? new Set<string>();
      open.add(id);
      this.#open.set(socket, open);
      this.metrics.subscriptionOpened();
      return;
    }
    this.#record(socket, id, { ...labels, outcome: outcomeOf((result as { errors?: readonly unknown[] }).errors) });
  }

  completed(socket: object, id: string): void {
    if (this.#open.get(socket)?.delete(id)) this.metrics?.subscriptionClosed();
  }

  closed(socket: object): void {
    const open = this.#open.get(socket);
    if (open && open.size > 0) this.metrics?.subscriptionClosed(open.size);
    this.#open.delete(socket);
    this.#started.delete(socket);
  }

  #record(socket: object, id: string, labels: { operation: string; type: string; outcome: string }): void {
    const started = this.#started.get(socket);
    const at = started?.get(id);
    if (!this.metrics || at === undefined) return;
    started!.delete(id);
    this.metrics.operation({ ...labels, transport: 'ws' }, (performance.now() - at) / 1000);
  }
}
