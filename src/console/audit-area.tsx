import { AuditPage } from './audit';
import { DigestsPage } from './digests';
import { EventLogPage } from './event-log';

const AREAS = [
  { path: '', label: 'Plan timeline' },
  { path: 'log', label: 'Event log' },
  { path: 'digests', label: 'Digests and keys' },
];

/**
 * The Audit area (ADMIN and AUDITOR only): a plan's timeline (#/audit/<planId>), the tenant's
 * event log (#/audit/log?<filters>) and the signed digests with their keys (#/audit/digests).
 */
export function AuditArea({ route }: { route: string[] }) {
  // The event log's filters follow "?" in the hash; they are its own to read.
  const area = (route[0] ?? '').split('?')[0]!;
  const current = area === 'log' || area === 'digests' ? area : '';
  return (
    <>
      <nav aria-label="Audit" className="subnav">
        <ul>
          {AREAS.map((entry) => (
            <li key={entry.path}>
              <a href={`#/audit${entry.path ? `/${entry.path}` : ''}`} aria-current={entry.path === current ? 'page' : undefined}>
                {entry.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {current === 'log' ? <EventLogPage /> : null}
      {current === 'digests' ? <DigestsPage /> : null}
      {current === '' ? <AuditPage route={route} /> : null}
    </>
  );
}
