import { Jobs, type JobObserver } from '../../src/app/jobs';
import { silentLogger } from '../../src/core/logger';
import { recordingLogger } from '../support/recording-logger';

describe("the jobs' observer (the metrics' tasks running)", () => {
  it('is told once that a job ended, even when it throws on being told', async () => {
    const ended: string[] = [];
    const observer: JobObserver = {
      started: () => undefined,
      ended: (kind, outcome) => {
        ended.push(`${kind} ${outcome}`);
        throw new Error('observer failed');
      },
    };
    const jobs = new Jobs(silentLogger, observer);
    jobs.start('a sync', async () => 'completed', 'repository_sync');
    jobs.start(
      'a run',
      async () => {
        throw new Error('run failed');
      },
      'plan_run',
    );
    await jobs.idle();
    expect(ended.sort()).toEqual(['plan_run error', 'repository_sync completed']);
    await jobs.close();
  });
});

describe('a stop of the jobs', () => {
  it('says which jobs it still waits for while it waits, and nothing once they ended', async () => {
    const { logger, lines } = recordingLogger();
    const jobs = new Jobs(logger);
    let release: () => void = () => undefined;
    // One job ends at the stop's signal; the other does not listen for it.
    jobs.start('a sync that stops', (signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())));
    jobs.start('task 42', () => new Promise<void>((resolve) => (release = resolve)));
    const closing = jobs.close({ reportAfterMs: 20 });
    await new Promise((resolve) => setTimeout(resolve, 70));
    release();
    await closing;
    const reports = lines.filter((line) => line.message === 'stopping: background work has not stopped yet');
    expect(reports.length).toBeGreaterThanOrEqual(1);
    expect(reports[0].fields).toMatchObject({ running: 1, jobs: ['task 42'] });
    const after = lines.length;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(lines.length).toBe(after);
  });
});
