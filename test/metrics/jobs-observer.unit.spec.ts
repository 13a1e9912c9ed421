import { Jobs, type JobObserver } from '../../src/app/jobs';
import { silentLogger } from '../../src/core/logger';

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
