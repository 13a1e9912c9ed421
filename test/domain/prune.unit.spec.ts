import { prune, pruneUnderWay, type PruneCommand, type PruneEvent } from '../../src/domain/prune';
import { fold } from '../../src/core/decider';
import { deciderSpec } from '../support/decider-spec';

const spec = deciderSpec(prune);
const STALE = 30 * 60_000;

type StartData = Extract<PruneCommand, { type: 'StartPrune' }>['data'];
const start = (overrides: Partial<StartData> = {}): PruneCommand => ({
  type: 'StartPrune',
  data: {
    pruneId: 'p2',
    storageId: 'st1',
    now: '2026-03-01T10:10:00.000Z',
    lastSignOfLifeAt: null,
    staleAfterMs: STALE,
    known: { runsWriting: 0 },
    ...overrides,
  },
});
const started = (pruneId = 'p1', startedAt = '2026-03-01T10:00:00.000Z'): PruneEvent => ({
  type: 'PruneStarted',
  data: { pruneId, storageId: 'st1', startedAt },
});
const finish = (pruneId: string, failure: string | null = null): PruneCommand => ({
  type: 'FinishPrune',
  data: { pruneId, now: '2026-03-01T10:05:00.000Z', objectsRemoved: 12, bytesFreed: 3400, failure },
});

describe('a prune of a storage', () => {
  it('starts while no run writes to the storage and no other prune is under way', () => {
    spec
      .given([])
      .when(start())
      .then([started('p2', '2026-03-01T10:10:00.000Z')]);
    spec
      .given([
        started(),
        { type: 'PruneFinished', data: { pruneId: 'p1', storageId: 'st1', objectsRemoved: 0, bytesFreed: 0, finishedAt: 'x', failure: null } },
      ])
      .when(start())
      .then([started('p2', '2026-03-01T10:10:00.000Z')]);
  });

  it('is refused while a plan run writes to the storage', () => {
    spec
      .given([])
      .when(start({ known: { runsWriting: 1 } }))
      .thenRefuses('CONFLICT', /a plan run is writing to this storage; prune when it has finished/);
  });

  it('is refused while another prune is alive, and closes one that showed no sign of life for the stale time', () => {
    spec
      .given([started()])
      .when(start())
      .thenRefuses('CONFLICT', /already running/);
    // Started long ago, but its process beat a minute ago: alive.
    spec
      .given([started('p1', '2026-03-01T08:00:00.000Z')])
      .when(start({ lastSignOfLifeAt: '2026-03-01T10:09:00.000Z' }))
      .thenRefuses('CONFLICT', /already running/);
    spec
      .given([started('p1', '2026-03-01T08:00:00.000Z')])
      .when(start({ lastSignOfLifeAt: '2026-03-01T09:00:00.000Z' }))
      .then([
        {
          type: 'PruneFinished',
          data: {
            pruneId: 'p1',
            storageId: 'st1',
            objectsRemoved: 0,
            bytesFreed: 0,
            finishedAt: '2026-03-01T10:10:00.000Z',
            failure: 'it showed no sign of life for too long',
          },
        },
        started('p2', '2026-03-01T10:10:00.000Z'),
      ]);
  });

  it('finishes with what it removed, or why it stopped', () => {
    spec
      .given([started()])
      .when(finish('p1'))
      .then([
        {
          type: 'PruneFinished',
          data: { pruneId: 'p1', storageId: 'st1', objectsRemoved: 12, bytesFreed: 3400, finishedAt: '2026-03-01T10:05:00.000Z', failure: null },
        },
      ]);
    spec
      .given([started()])
      .when(finish('p1', 'the storage could not be reached'))
      .then([
        {
          type: 'PruneFinished',
          data: {
            pruneId: 'p1',
            storageId: 'st1',
            objectsRemoved: 12,
            bytesFreed: 3400,
            finishedAt: '2026-03-01T10:05:00.000Z',
            failure: 'the storage could not be reached',
          },
        },
      ]);
    spec
      .given([])
      .when(finish('p1'))
      .thenRefuses('CONFLICT', /not running/);
    spec
      .given([started()])
      .when(finish('p9'))
      .thenRefuses('CONFLICT', /not running/);
    spec
      .given([started()])
      .when({ type: 'FinishPrune', data: { pruneId: 'p1', now: 'x', objectsRemoved: -1, bytesFreed: 0, failure: null } })
      .thenRefuses('INVALID_INPUT', /objectsRemoved/);
  });

  it('holds runs back while it is under way and alive, not once it is stale or finished', () => {
    const running = fold(prune, [started('p1', '2026-03-01T10:00:00.000Z')]);
    expect(pruneUnderWay(running, null, STALE, '2026-03-01T10:29:00.000Z')).toBe(true);
    expect(pruneUnderWay(running, null, STALE, '2026-03-01T10:31:00.000Z')).toBe(false);
    expect(pruneUnderWay(running, '2026-03-01T10:20:00.000Z', STALE, '2026-03-01T10:31:00.000Z')).toBe(true);
    expect(pruneUnderWay(fold(prune, []), null, STALE, '2026-03-01T10:00:00.000Z')).toBe(false);
  });
});
