import { describe, expect, it } from 'vitest';
import { BOOT_DATING_SLACK_MS, bootsBetween, MAX_BOOTS_PER_REPORT, type ReceivedReport } from './boots.js';

const T = Date.parse('2026-06-01T00:00:00Z');
const at = (s: number, report: ReceivedReport['report']): ReceivedReport => ({ report, receivedAt: T + s * 1000 });

describe('boots between two health reports', () => {
  it.each<[string, ReceivedReport | undefined, ReceivedReport, number | undefined]>([
    ['the first report: nothing to compare with', undefined, at(60, { bootCount: 9, uptimeS: 5 }), undefined],
    ['the same boot: uptime grew, count unchanged', at(0, { bootCount: 9, uptimeS: 100 }), at(60, { bootCount: 9, uptimeS: 160 }), undefined],
    ['one reboot', at(0, { bootCount: 9, uptimeS: 100 }), at(60, { bootCount: 10, uptimeS: 5 }), 1],
    ['a crash loop: three boots between two reports', at(0, { bootCount: 9, uptimeS: 100 }), at(60, { bootCount: 12, uptimeS: 5 }), 3],
    ['the count rules over uptime: it grew past the old one, the count says it rebooted', at(0, { bootCount: 9, uptimeS: 5 }), at(600, { bootCount: 10, uptimeS: 90 }), 1],
    ['the count rules over uptime: uptime back, count unchanged (a device that resets its clock)', at(0, { bootCount: 9, uptimeS: 100 }), at(60, { bootCount: 9, uptimeS: 5 }), undefined],
    ['a counter reset counts once', at(0, { bootCount: 9, uptimeS: 100 }), at(60, { bootCount: 0, uptimeS: 5 }), 1],
    ['a counter that jumped is capped', at(0, { bootCount: 9 }), at(60, { bootCount: 1_000_000_009 }), MAX_BOOTS_PER_REPORT],
    ['no count: uptime went back', at(0, { uptimeS: 100 }), at(60, { uptimeS: 5 }), 1],
    ['no count: uptime went on', at(0, { uptimeS: 100 }), at(60, { uptimeS: 160 }), undefined],
    ['a count in only one of them: uptime decides', at(0, { uptimeS: 100 }), at(60, { bootCount: 3, uptimeS: 5 }), 1],
    ['neither field', at(0, {}), at(60, {}), undefined],
  ])('%s', (_name, previous, next, count) => {
    expect(bootsBetween(previous, next)?.count).toBe(count);
  });

  it('dates the boots at the latest one, early rather than late', () => {
    expect(bootsBetween(at(0, { bootCount: 1, uptimeS: 100 }), at(60, { bootCount: 2, uptimeS: 5 }))).toEqual({ count: 1, at: T + 55_000 - BOOT_DATING_SLACK_MS });
    // Without uptime, at the report.
    expect(bootsBetween(at(0, { bootCount: 1 }), at(60, { bootCount: 2 }))?.at).toBe(T + 60_000 - BOOT_DATING_SLACK_MS);
  });
});
