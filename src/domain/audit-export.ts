// Audit export: the tenant's history taken away as a file. Evidence handed to someone is itself
// evidence: who took it, in which format, with which filters. One stream per export, so that
// however often an auditor exports, no stream that commands fold grows with it.
import type { Decider } from './decider';
import { DomainError } from './errors';

/** An export of the audit history: its format and the filters it was asked with (null: not filtered by it). */
export interface AuditExportTaken {
  exportId: string;
  format: 'jsonl' | 'csv' | 'bundle';
  filters: {
    from: string | null;
    to: string | null;
    types: string[] | null;
    organizationId: string | null;
    planId: string | null;
    credentialId: string | null;
    actorId: string | null;
    /** An export of whole digest periods: the first and last digest's sequence numbers (absent on exports recorded before). */
    digestPeriods?: { first: number; last: number } | null;
  };
  at: string;
}

export type AuditExportEvent = { type: 'AuditHistoryExported'; data: AuditExportTaken };

export type AuditExportCommand = { type: 'RecordAuditExport'; data: AuditExportTaken };

export interface AuditExportState {
  recorded: boolean;
}

export const auditExport: Decider<AuditExportState, AuditExportCommand, AuditExportEvent> = {
  initialState: () => ({ recorded: false }),
  evolve(_state, event) {
    switch (event.type) {
      case 'AuditHistoryExported':
        return { recorded: true };
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'RecordAuditExport':
        if (state.recorded) throw new DomainError('CONFLICT', `export ${command.data.exportId} is already recorded`);
        return [{ type: 'AuditHistoryExported', data: command.data }];
    }
  },
};

export const auditExportStream = (exportId: string) => `audit-export-${exportId}`;
