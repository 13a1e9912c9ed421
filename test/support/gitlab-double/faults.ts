/** Failures a test asks for: an error status, a late answer, or a connection dropped without one. */
export interface FaultRequest {
  method: string;
  /** As sent, without the query: '/api/v4/groups/acme%2Fplatform/projects'. */
  path: string;
  query: Record<string, string>;
  username: string | null;
}

export interface FaultRule {
  match: (request: FaultRequest) => boolean;
  /** Answer with this status and a JSON {message}. */
  status?: number;
  /** Hold the answer this long; without status or hangUp, then answer normally. */
  delayMs?: number;
  /** Destroy the socket without answering (after delayMs, if given). */
  hangUp?: boolean;
  /** How many matching requests it affects; unlimited by default. */
  times?: number;
}

export class Faults {
  private rules: { rule: FaultRule; left: number }[] = [];

  add(rule: FaultRule): void {
    this.rules.push({ rule, left: rule.times ?? Infinity });
  }

  clear(): void {
    this.rules = [];
  }

  /** The first rule matching the request, counted down; rules used up are dropped. */
  take(request: FaultRequest): FaultRule | undefined {
    if (this.rules.length === 0) return undefined;
    const index = this.rules.findIndex(({ rule, left }) => left > 0 && rule.match(request));
    if (index < 0) return undefined;
    const entry = this.rules[index];
    entry.left -= 1;
    if (entry.left <= 0) this.rules.splice(index, 1);
    return entry.rule;
  }
}
