import type { AppDeps } from './deps';

/** The signing evidence a bundle carries beside the events. */
export interface ExportEvidence {
  /** digests.jsonl: the tenant's signed digests whose period overlaps [from, to), oldest first, in chunks of whole lines. */
  digestLines(tenantId: string, from: Date | undefined, to: Date | undefined): AsyncIterable<string>;
  /** keys.json: the document /.well-known/backplane-audit-keys.json serves. */
  keysJson(): Promise<string>;
}

export function exportEvidence(_deps: AppDeps): ExportEvidence {
  return {
    async *digestLines() {},
    async keysJson() {
      return `${JSON.stringify({ keys: [] })}\n`;
    },
  };
}
