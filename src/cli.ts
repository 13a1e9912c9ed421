#!/usr/bin/env node
import { openBackplane, openDatabase, type Backplane } from './backplane';
import { verifyExport } from './audit-export/verify-command';
import { rotateAuditKey } from './audit/key-rotation';
import { describeStore, loadConfig, type Config } from './config';
import { countPendingEvents } from './core/pending-events';
import { rebuildProjection, type RebuildProgress } from './core/rebuild';
import { verifyLog } from './eventstore/verify';

const USAGE = `usage: backplane <command>

  rebuild <projection>|--all   drop read models and replay the event log into them, showing progress
  verify                       walk the event log and check every stream's hash chain
  status                       show each projection's checkpoint and the log's head
  rotate-audit-key             retire the audit digests' signing key and sign with a new one (BACKPLANE_AUDIT_SIGNING_KEY's, if set)
  verify-export <bundle>       check an audit export bundle (.tar.gz) offline: no server, no database

Configuration comes from the environment, as for npm start (BACKPLANE_EVENT_STORE, BACKPLANE_DATA_DIR,
BACKPLANE_DATABASE_URL, BACKPLANE_DATABASE_SCHEMA, BACKPLANE_ESDB_URL).`;

/** One line that rewrites itself on a terminal, and plain lines elsewhere (logs, pipes). */
function progressLine(): { update(text: string, final?: boolean): void } {
  const tty = process.stdout.isTTY === true;
  let lastPrinted = 0;
  return {
    update(text, final = false) {
      if (tty) {
        process.stdout.write(`\r\x1b[2K${text}${final ? '\n' : ''}`);
      } else if (final || Date.now() - lastPrinted >= 1000) {
        lastPrinted = Date.now();
        process.stdout.write(`${text}\n`);
      }
    },
  };
}

function describeRebuild(progress: RebuildProgress): string {
  const total = progress.eventsToApply ?? progress.eventsInLog;
  const of = total !== undefined ? ` of ${total} in the log` : '';
  const left = progress.done || progress.secondsLeft === null ? '' : `, about ${duration(progress.secondsLeft)} left`;
  const where = progress.where === 'elsewhere' ? ' (replayed by the running server)' : '';
  const building = progress.buildingIndex;
  if (building && !progress.done) {
    return `${progress.projection}: ${progress.eventsApplied} events applied${of}; building index ${building.index} (${building.number} of ${building.of})${where}`;
  }
  if (progress.buildingIndexes && !progress.done) return `${progress.projection}: ${progress.eventsApplied} events applied${of}; building its indexes${where}`;
  return `${progress.projection}: ${progress.eventsApplied} events applied${of}, ${progress.eventsPerSecond} events/s${left}${where}${progress.done ? ' - done' : ''}`;
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes} min ${seconds % 60} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

async function rebuild(backplane: Backplane, target: string | undefined): Promise<number> {
  if (!target) {
    process.stderr.write(`rebuild needs a projection name or --all\n\n${USAGE}\n`);
    return 2;
  }
  const runners = target === '--all' ? backplane.runners : [backplane.runner(target)];
  // What each has to apply, for the time left: positions do not say, so the log is read, once for all.
  const head = await backplane.store.headPosition();
  process.stdout.write('counting the events of the log each projection reads\n');
  const counts =
    head === null
      ? runners.map(() => 0)
      : await countPendingEvents(
          backplane.store,
          runners.map((runner) => ({ reads: (stream: string) => runner.reads(stream), from: null })),
          head,
        );
  for (const [index, runner] of runners.entries()) {
    const line = progressLine();
    await rebuildProjection(runner, backplane.store, (progress) => line.update(describeRebuild(progress), progress.done), { eventsToApply: counts[index] });
  }
  return 0;
}

async function verify(backplane: Backplane): Promise<number> {
  const line = progressLine();
  const result = await verifyLog(backplane.store, {
    onProgress: (checked) => line.update(`verifying: ${checked} events checked`),
  });
  line.update(`verified ${result.eventsChecked} events in ${result.streamsChecked} streams`, true);
  if (!result.problem) {
    process.stdout.write('the log is intact\n');
    return 0;
  }
  const { kind, stream, revision, eventId, message } = result.problem;
  process.stdout.write(`TAMPERED (${kind}) at stream ${stream} revision ${revision}${eventId ? ` event ${eventId}` : ''}: ${message}\n`);
  return 1;
}

async function status(backplane: Backplane): Promise<number> {
  process.stdout.write(`head position: ${(await backplane.store.headPosition()) ?? 'empty log'}, ${await backplane.store.countEvents()} events\n`);
  for (const runner of backplane.runners) {
    const checkpoint = await runner.checkpoint();
    const where = checkpoint?.inline ? `kept inline by the appends since ${checkpoint.position ?? 'start'}` : `at ${checkpoint?.position ?? 'start'}`;
    const pending = checkpoint?.indexesPending ? ', its indexes still to be built' : '';
    process.stdout.write(`${runner.name}: ${checkpoint ? `${where}, ${checkpoint.eventsApplied} events applied by its runner${pending}` : 'never run'}\n`);
  }
  return 0;
}

/**
 * Retires the audit digests' signing key and makes a new one (or takes BACKPLANE_AUDIT_SIGNING_KEY's).
 * Run with the data folder of the servers that sign: on PostgreSQL they sign with the new key from their next digest.
 */
async function rotateAuditKeyCommand(config: Config): Promise<number> {
  const db = await openDatabase(config);
  try {
    process.stderr.write(`store: ${describeStore(config)}\n`);
    const { retired, active } = await rotateAuditKey(db, {
      pem: config.auditSigningKey,
      dataDir: config.dataDir,
      digestDir: config.auditDigestDir ?? null,
    });
    process.stdout.write(`${retired ? `retired audit signing key ${retired}; ` : ''}digests are signed with key ${active} from now on\n`);
    return 0;
  } finally {
    await db.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, argument] = argv;
  if (!command || command === 'help' || command === '--help') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  // Offline: it opens no store, so it runs anywhere the bundle is.
  if (command === 'verify-export') return verifyExport(argument);
  if (command === 'rotate-audit-key') return rotateAuditKeyCommand(loadConfig());
  const commands: Record<string, (backplane: Backplane) => Promise<number>> = {
    rebuild: (backplane) => rebuild(backplane, argument),
    verify,
    status,
  };
  const run = commands[command];
  if (!run) {
    process.stderr.write(`unknown command ${command}\n\n${USAGE}\n`);
    return 2;
  }
  const config = loadConfig();
  const backplane = await openBackplane(config);
  try {
    process.stderr.write(`store: ${describeStore(config)}\n`);
    return await run(backplane);
  } finally {
    await backplane.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`backplane: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
