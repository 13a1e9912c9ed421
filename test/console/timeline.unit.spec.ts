import type { HistoryEvent } from '../../src/console/documents';
import { buildTimeline, place } from '../../src/console/timeline';

const alice = { id: 'p-alice', name: 'alice', role: 'ADMIN' };
const bob = { id: 'p-bob', name: 'bob', role: 'OPERATOR' };
const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();
const ms = (minute: number) => Date.parse(at(minute));

let counter = 0;
function event(minute: number, type: string, data: Record<string, unknown>, actor = alice): HistoryEvent {
  counter++;
  return { id: `e${counter}`, type, occurredAt: at(minute), data: { planId: 'plan', ...data }, correlationId: null, actor };
}

describe('the credential timeline', () => {
  it('has a bar per stretch a credential was on, effective only where the plan switch was on too', () => {
    const timeline = buildTimeline(
      [
        event(0, 'PlanCreated', {}),
        event(10, 'PlanCredentialToggled', { credentialId: 'c1', enabled: true }),
        event(20, 'PlanAdditionalCredentialsSet', { enabled: true }, bob),
        event(30, 'PlanAdditionalCredentialsSet', { enabled: false }),
        event(40, 'PlanCredentialToggled', { credentialId: 'c1', enabled: false }, bob),
        event(50, 'PlanCredentialToggled', { credentialId: 'c1', enabled: true }),
      ],
      ms(60),
    );
    expect(timeline.start).toBe(ms(0));
    expect(timeline.end).toBe(ms(60));
    expect(timeline.switched).toEqual([{ from: ms(20), to: ms(30), onBy: bob, offBy: alice }]);
    const [lane] = timeline.lanes;
    expect(lane!.credentialId).toBe('c1');
    expect(lane!.enabled).toEqual([
      { from: ms(10), to: ms(40), onBy: alice, offBy: bob },
      { from: ms(50), to: null, onBy: alice, offBy: null },
    ]);
    // Effective from when the switch went on (bob) until it went off (alice); not after 50, with the switch off.
    expect(lane!.effective).toEqual([{ from: ms(20), to: ms(30), onBy: bob, offBy: alice }]);
  });

  it('ends every open stretch when the plan is deleted, and ignores a repeated switch-on', () => {
    const timeline = buildTimeline(
      [
        event(0, 'PlanCreated', {}),
        event(5, 'PlanAdditionalCredentialsSet', { enabled: true }),
        event(6, 'PlanCredentialToggled', { credentialId: 'c2', enabled: true }, bob),
        event(7, 'PlanCredentialToggled', { credentialId: 'c2', enabled: true }),
        event(30, 'PlanDeleted', {}, bob),
      ],
      ms(90),
    );
    expect(timeline.end).toBe(ms(30));
    expect(timeline.lanes[0]!.enabled).toEqual([{ from: ms(6), to: ms(30), onBy: bob, offBy: bob }]);
    expect(timeline.lanes[0]!.effective).toEqual([{ from: ms(6), to: ms(30), onBy: bob, offBy: bob }]);
  });

  it('places a stretch in percent of the whole, and a stretch within a second still shows', () => {
    const timeline = buildTimeline([event(0, 'PlanCreated', {})], ms(100));
    expect(place(timeline, { from: ms(25), to: ms(75), onBy: alice, offBy: null })).toEqual({ left: '25.000%', width: '50.000%' });
    expect(place(timeline, { from: ms(50), to: null, onBy: alice, offBy: null })).toEqual({ left: '50.000%', width: '50.000%' });
    expect(Number.parseFloat(place(timeline, { from: ms(10), to: ms(10), onBy: alice, offBy: null }).width)).toBeGreaterThan(0);
  });
});
