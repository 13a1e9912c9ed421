import { useState } from 'react';
import { describeError, download } from './api';
import { Alert } from './forms';
import { useSession } from './session';
import { bytes } from './usage';

const FORMATS = [
  { format: 'jsonl', label: 'Export JSONL', extension: 'jsonl' },
  { format: 'csv', label: 'Export CSV', extension: 'csv' },
  { format: 'bundle', label: 'Export verifiable bundle (.tar.gz)', extension: 'tar.gz' },
] as const;

/** Hands a blob to the browser as a download, under the server's name for it. */
function save(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has taken the blob once the click is handled; the URL only holds its memory.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * GET /audit/export with the event log's filters: fetched with the token in the Authorization
 * header (never in a URL), then saved from memory. Each export is recorded in the log.
 */
export function AuditExport({ query }: { query: string }) {
  const session = useSession();
  const [busy, setBusy] = useState<string | null>(null);
  const [done, setDone] = useState<{ name: string; size: number } | null>(null);
  const [error, setError] = useState<unknown>(null);

  async function take(format: string, extension: string) {
    setBusy(format);
    setDone(null);
    setError(null);
    try {
      const params = new URLSearchParams(query);
      params.set('format', format);
      const file = await download(session.token, `/audit/export?${params}`, `audit.${extension}`);
      save(file.blob, file.name);
      setDone({ name: file.name, size: file.blob.size });
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(null);
    }
  }

  return (
    <section className="section" aria-labelledby="audit-export-title">
      <div className="section-head">
        <h2 id="audit-export-title">Export these events</h2>
      </div>
      <p className="hint">The events the filters above select, as they stand when the export starts. Each export is itself recorded in the log.</p>
      <div className="actions">
        {FORMATS.map(({ format, label, extension }) => (
          <button key={format} type="button" disabled={busy !== null} onClick={() => void take(format, extension)} data-export={format}>
            {busy === format ? 'Exporting…' : label}
          </button>
        ))}
      </div>
      <Alert>{error ? `Export refused: ${describeError(error)}` : null}</Alert>
      {done ? (
        <Alert kind="success">
          <span data-export-done={done.name} data-export-size={done.size}>
            Downloaded {done.name} ({bytes(done.size)}).
          </span>
        </Alert>
      ) : null}
    </section>
  );
}
