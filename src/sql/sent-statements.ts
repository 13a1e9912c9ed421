/**
 * The statements a transaction has sent and not yet seen answered (SqlTransaction.send): what the
 * next statement it queries, and its commit, wait for first.
 */
export class SentStatements {
  private pending: Promise<unknown>[] = [];

  /** Keeps the statement's outcome for settled(); its failure is never left unhandled. */
  add<T>(statement: Promise<T>): Promise<T> {
    statement.catch(() => undefined);
    this.pending.push(statement);
    return statement;
  }

  /** The answer of a statement queried after those sent: once every one of them has run, failing with the first that failed. */
  async after<T>(answer: Promise<T>): Promise<T> {
    answer.catch(() => undefined);
    await this.settled();
    return answer;
  }

  /** add(), answering as SqlTransaction.send does: settled with the statement, and awaited by nobody if need be. */
  send(statement: Promise<unknown>): Promise<void> {
    const ran = this.add(statement).then(() => undefined);
    ran.catch(() => undefined);
    return ran;
  }

  /**
   * Waits for every statement sent so far, and throws the failure of the first that failed, in the
   * order they were sent (once one fails, those after it fail only because the transaction is
   * aborted). A failure stays: every later call throws it again.
   */
  async settled(): Promise<void> {
    if (this.pending.length === 0) return;
    const sent = [...this.pending];
    const outcomes = await Promise.allSettled(sent);
    const failed = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    // Those sent meanwhile stay, whoever waits for them.
    const answered = new Set<Promise<unknown>>(sent);
    this.pending = this.pending.filter((statement) => !answered.has(statement));
  }

  /** Waits for every statement sent so far, whatever their outcome. */
  async finished(): Promise<void> {
    await Promise.allSettled(this.pending);
  }
}
