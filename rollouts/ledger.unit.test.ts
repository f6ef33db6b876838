import { describe, expect, it } from 'vitest';
import { BudgetLedger, type LedgerMember } from './ledger.js';

const NOW = 1_000_000;
/** A member whose load (per site) and bytes left the test sets. */
function member(load: Record<string, number>, left: Record<string, number> = {}): LedgerMember {
  return {
    load: (site) => load[site] ?? 0,
    totalLoad: () => Object.values(load).reduce((a, b) => a + b, 0),
    bytesLeft: () => new Map(Object.entries(left)),
  };
}

describe('BudgetLedger', () => {
  it('gives a rollout alone the whole site budget', () => {
    const ledger = new BudgetLedger();
    ledger.join('a', member({ s: 30 }));
    expect(ledger.allowance('a', 's', 100, NOW)).toBe(100);
  });

  it.each([
    // [name, a's load, a wants more, b's allowance]
    ['a rollout that wants no more keeps what it holds; the newcomer gets the rest', 30, false, 70],
    ['one that wants more is left half while under it', 30, true, 50],
    ['one that came first keeps what it holds above its share until those downloads end', 80, true, 20],
  ])('%s', (_name, aLoad, aWants, expected) => {
    const ledger = new BudgetLedger();
    ledger.join('a', member({ s: aLoad }));
    ledger.join('b', member({}));
    ledger.want('a', 's', aWants);
    expect(ledger.allowance('b', 's', 100, NOW)).toBe(expected);
  });

  it('converges to equal shares: the first one, over its share, admits nothing until it is under it', () => {
    const ledger = new BudgetLedger();
    ledger.join('a', member({ s: 80 }));
    ledger.join('b', member({ s: 20 }));
    ledger.want('a', 's', true);
    ledger.want('b', 's', true);
    expect(ledger.allowance('a', 's', 100, NOW)).toBe(50); // holds 80: admits no one
    expect(ledger.allowance('b', 's', 100, NOW)).toBe(20); // holds 20: admits no one until a's downloads end
  });

  it('splits among the wanting what the settled ones leave, three ways', () => {
    const ledger = new BudgetLedger();
    ledger.join('settled', member({ s: 40 }));
    ledger.join('w1', member({ s: 10 }));
    ledger.join('w2', member({ s: 0 }));
    ledger.want('w1', 's', true);
    ledger.want('w2', 's', true);
    // (100 − 40) ÷ 3 = 20 each for w1, w2 and the asker.
    expect(ledger.allowance('me', 's', 100, NOW)).toBeCloseTo(20, 9);
    // Sites are apart: nothing held at t.
    expect(ledger.allowance('me', 't', 100, NOW)).toBe(100);
  });

  it('forgets a rollout that leaves, and what it wanted', () => {
    const ledger = new BudgetLedger();
    ledger.join('a', member({ s: 60 }));
    ledger.want('a', 's', true);
    ledger.leave('a');
    expect(ledger.allowance('b', 's', 100, NOW)).toBe(100);
  });

  it('takes the downloads no rollout drives off the top, by their measured bytes', () => {
    const ledger = new BudgetLedger();
    ledger.join('a', member({}));
    // 30 B/s for 4 s (the throughput window needs whole seconds), and some bytes a rollout counts.
    for (let s = 0; s <= 4; s++) {
      ledger.delivered('s', 30, NOW + s * 1000, false);
      ledger.delivered('s', 50, NOW + s * 1000, true);
    }
    const at = NOW + 4500;
    expect(ledger.allowance('a', 's', 100, at)).toBe(70);
    expect(ledger.siteRate('s', at)).toBe(80);
    expect(ledger.egressAllowance('a', 1000, at)).toBe(970);
  });

  it("leaves a rollout the service cap less every other rollout's load", () => {
    const ledger = new BudgetLedger();
    ledger.join('a', member({ s: 30, t: 20 }));
    ledger.join('b', member({ s: 10 }));
    expect(ledger.egressAllowance('b', 100, NOW)).toBe(50);
  });

  it("tells a dry run what the running rollouts hold on each site, and until when", () => {
    const ledger = new BudgetLedger();
    // a wants more at s: it settles at (100 − 20) ÷ 2 = 40 (the newcomer counted) for its 4,000 bytes (100 s).
    ledger.join('a', member({ s: 30 }, { s: 4000 }));
    ledger.want('a', 's', true);
    // b wants no more: it keeps its 20 for its 1,000 bytes (50 s); at t it holds nothing.
    ledger.join('b', member({ s: 20, t: 0 }, { s: 1000, t: 500 }));
    expect(ledger.claims([['s', 100], ['t', 100], ['u', 100]], NOW)).toEqual({
      s: [{ rate: 40, until: NOW + 100_000 }, { rate: 20, until: NOW + 50_000 }],
    });
  });
});
