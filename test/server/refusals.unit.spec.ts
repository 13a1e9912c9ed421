import { Refusals } from '../../src/server/refusals';

describe('Refusals', () => {
  const lines: Record<string, unknown>[] = [];
  const logger = {
    info: () => undefined,
    error: () => undefined,
    warn: (message: string, fields?: Record<string, unknown>) => lines.push({ message, ...fields }),
  };
  beforeEach(() => lines.splice(0));

  it('tells the first refusal of a kind at once and the rest in one line per interval, whatever their number', async () => {
    const refusals = new Refusals(logger, 50);
    for (let index = 0; index < 1000; index += 1) refusals.count('http 400');
    refusals.count('ws binary messages');
    expect(lines).toEqual([
      { message: 'requests refused', kind: 'http 400', count: 1 },
      { message: 'requests refused', kind: 'ws binary messages', count: 1 },
    ]);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(lines.slice(2)).toEqual([{ message: 'requests refused', kind: 'http 400', count: 999 }]);
    refusals.flush();
  });

  it('tells what is still counted when the server stops, and nothing twice', () => {
    const refusals = new Refusals(logger, 60_000);
    refusals.count('ws connections');
    refusals.count('ws connections');
    refusals.flush();
    refusals.flush();
    expect(lines.map((line) => line.count)).toEqual([1, 1]);
  });
});
