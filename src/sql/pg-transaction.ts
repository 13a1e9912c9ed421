import { createHash } from 'node:crypto';
import type { Client, PoolClient, QueryConfig, QueryResult } from 'pg';
import type { QueryOptions, SqlTransaction } from './database';
import { SentStatements } from './sent-statements';

/**
 * One transaction on a pooled connection that pipelines (the pool's `pipeline` option): each
 * statement goes without waiting for the answers before it. Statements are written to the socket
 * in runs, one write each: BEGIN with the first statement, the statements sent (send) with
 * whatever follows them (the next statement queried, or the COMMIT). A run goes at the latest on
 * the next tick (process.nextTick), so that a sent statement awaited on its own is answered too.
 */
export class PgTransaction {
  private readonly sent = new SentStatements();
  /** Statements made and not yet written, in order. */
  private unwritten: (() => void)[] = [];
  private writeScheduled = false;
  /** While a run is written: a failure heard meanwhile is node-postgres' own, before the database saw the statement. */
  private writing = false;
  /**
   * The first statement sent that node-postgres could not write (a parameter it cannot convert):
   * the database never saw it, so its transaction is not aborted; the COMMIT, perhaps in the
   * same run, goes as a ROLLBACK instead.
   */
  private unwritable: { error: unknown } | undefined;
  /**
   * Whether node-postgres failed to write any statement (sent or queried). The connection is then
   * not to be used again: for a statement kept prepared it has told the server to forget it while
   * still taking it for prepared, and every later use of it there would fail.
   */
  unsentFailure = false;

  constructor(private readonly client: PoolClient) {
    // Whatever the database's default: Backplane's transactions are written for a snapshot per
    // statement. It goes with the first statement, which waits for it before it answers. Only an
    // aborted session could refuse it, which would abort the statements behind it as well.
    this.sent.add(this.add({ text: 'BEGIN ISOLATION LEVEL READ COMMITTED' }, true));
  }

  readonly executor: SqlTransaction = {
    query: async <R>(sql: string, params?: unknown[], options?: QueryOptions) => {
      const answer = this.add(statement(sql, params, options), false);
      this.write();
      return (await this.sent.after(answer)).rows as R[];
    },
    send: (sql: string, params?: unknown[], options?: QueryOptions) => {
      const ran = this.sent.send(this.add(statement(sql, params, options), true));
      if (!this.writeScheduled) {
        this.writeScheduled = true;
        process.nextTick(() => this.write());
      }
      return ran;
    },
  };

  /**
   * Commits behind every statement sent. Throws when the database rolled back instead: with the
   * first failure among the statements sent, or else saying so (a statement the caller awaited
   * had failed, and the caller went on).
   */
  async commit(): Promise<void> {
    const committing = this.add(() => ({ text: this.unwritable === undefined ? 'COMMIT' : 'ROLLBACK' }), false);
    this.write();
    const failed = await this.sent.settled().then(
      () => undefined,
      (error: unknown) => ({ error }),
    );
    const commit = await committing;
    // Committed: every statement sent ran (a failure heard of one then came after the database's answer).
    if (commit.command === 'COMMIT') return;
    throw failed !== undefined ? failed.error : new Error('the transaction was rolled back: a statement in it failed');
  }

  /** Rolls back once every statement made has been written and answered; throws when the connection could not. */
  async rollback(): Promise<void> {
    const rolledBack = this.add({ text: 'ROLLBACK' }, false);
    this.write();
    await this.sent.finished();
    await rolledBack;
  }

  /**
   * A statement made, written with the next run. A failure node-postgres reports of a `sent` one
   * as it writes it makes the COMMIT a ROLLBACK (see unwritable).
   */
  private add(config: QueryConfig | (() => QueryConfig), sent: boolean): Promise<QueryResult> {
    let write!: () => void;
    const answer = new Promise<QueryResult>((resolve, reject) => {
      write = () => {
        this.client.query(typeof config === 'function' ? config() : config, (error: Error | undefined, result: QueryResult) => {
          if (!error) return resolve(result);
          if (this.writing) this.unsentFailure = true;
          if (sent && this.writing) this.unwritable ??= { error };
          reject(error);
        });
      };
    });
    this.unwritten.push(write);
    // Awaited by its caller (sent ones through SentStatements); not left unhandled should the caller give up first.
    answer.catch(() => undefined);
    return answer;
  }

  /** Writes the statements made so far, in one write to the socket where it can be corked. */
  private write(): void {
    this.writeScheduled = false;
    if (this.unwritten.length === 0) return;
    const run = this.unwritten;
    this.unwritten = [];
    const stream = (this.client as unknown as Client).connection?.stream;
    stream?.cork?.();
    this.writing = true;
    try {
      for (const write of run) write();
    } finally {
      this.writing = false;
      stream?.uncork?.();
    }
  }
}

export function statement(text: string, values: unknown[] | undefined, options: QueryOptions | undefined): QueryConfig {
  if (options?.prepareAs) return { name: options.prepareAs, text, values };
  if (options?.prepared) return { name: preparedName(text), text, values };
  return { text, values };
}

/** The names of the statements prepared by their text (a few dozen texts, see QueryOptions.prepared). */
const preparedNames = new Map<string, string>();

/** A name of at most 63 bytes (PostgreSQL's bound) that only this text has. */
function preparedName(text: string): string {
  let name = preparedNames.get(text);
  if (name === undefined) {
    name = `backplane_${createHash('sha256').update(text).digest('hex').slice(0, 32)}`;
    preparedNames.set(text, name);
  }
  return name;
}
