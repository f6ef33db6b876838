import { describe, expect, it } from 'vitest';
import type { JsonObject } from './protocol/shadow.js';
import { DeltaDispatcher, type DeltaResult } from './shadow-deltas.js';

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A dispatcher whose reports are accepted at `acceptedAt(n)` for the n-th report (default: the next version). */
function setup(options: { acceptedAt?: (version: number) => number; answer?: (delta: JsonObject) => DeltaResult | Promise<DeltaResult> } = {}) {
  const calls: Array<[JsonObject, number]> = [];
  const reports: JsonObject[] = [];
  const errors: unknown[] = [];
  let refreshes = 0;
  let last = 0;
  const dispatcher = new DeltaDispatcher({
    report: async (reported) => {
      reports.push(reported);
      return options.acceptedAt ? options.acceptedAt(last) : last + 1;
    },
    refresh: async () => void refreshes++,
    onError: (err) => errors.push(err),
  });
  dispatcher.setHandler(async (delta, version) => {
    calls.push([delta, version]);
    last = version;
    return options.answer ? options.answer(delta) : delta;
  });
  return { dispatcher, calls, reports, errors, refreshes: () => refreshes };
}

function deferred() {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
}

describe('DeltaDispatcher', () => {
  it('raises each version once and ignores older ones', async () => {
    const { dispatcher, calls, reports } = setup();
    dispatcher.offer({ led: 'on' }, 5);
    await settle();
    dispatcher.offer({ led: 'on' }, 5);
    dispatcher.offer({ led: 'off' }, 4);
    await settle();
    expect(calls).toEqual([[{ led: 'on' }, 5]]);
    expect(reports).toEqual([{ led: 'on' }]);
  });

  it('keeps only the newest delta while the handler is busy', async () => {
    const gate = deferred();
    const { dispatcher, calls } = setup({ answer: async (d) => (await gate.promise, d) });
    dispatcher.offer({ a: 1 }, 5);
    dispatcher.offer({ a: 2 }, 7);
    dispatcher.offer({ a: 3 }, 6);
    dispatcher.offer({ a: 1 }, 5); // the one in progress
    gate.release();
    await settle();
    expect(calls).toEqual([[{ a: 1 }, 5], [{ a: 2 }, 7]]);
  });

  it('does not ask again about the delta its own report left (report at version + 1)', async () => {
    const { dispatcher, calls } = setup({ answer: () => ({ led: 'on' }) });
    dispatcher.offer({ led: 'on', mode: 'eco' }, 5);
    await settle();
    dispatcher.offer({ mode: 'eco' }, 6);
    await settle();
    expect(calls).toEqual([[{ led: 'on', mode: 'eco' }, 5]]);
  });

  it('reads the document again when another update came between the delta and the report', async () => {
    const gate = deferred();
    const s = setup({ answer: async (d) => (await gate.promise, d), acceptedAt: () => 8 });
    s.dispatcher.offer({ a: 1 }, 5);
    s.dispatcher.offer({ a: 1, b: 2 }, 6); // stale once the report lands at 8
    gate.release();
    await settle();
    expect(s.refreshes()).toBe(1);
    expect(s.calls).toEqual([[{ a: 1 }, 5]]);
    s.dispatcher.offer({ b: 2 }, 8);
    await settle();
    expect(s.calls).toEqual([[{ a: 1 }, 5], [{ b: 2 }, 8]]);
  });

  it('raises a delta again after the handler failed, and reports the failure', async () => {
    let fail = true;
    const { dispatcher, calls, errors } = setup({
      answer: (d) => {
        if (fail) throw new Error('actuator busy');
        return d;
      },
    });
    dispatcher.offer({ led: 'on' }, 5);
    await settle();
    expect(errors).toEqual([new Error('actuator busy')]);
    fail = false;
    dispatcher.offer({ led: 'on' }, 5); // the get at the next connect
    await settle();
    expect(calls.map(([, v]) => v)).toEqual([5, 5]);
  });

  it('reports nothing when the handler returns nothing or {}, and treats the version as dealt with', async () => {
    const { dispatcher, calls, reports } = setup({ answer: (d) => (d['n'] === 1 ? undefined : {}) });
    dispatcher.offer({ n: 1 }, 5);
    await settle();
    dispatcher.offer({ n: 2 }, 6);
    await settle();
    dispatcher.offer({ n: 2 }, 6);
    await settle();
    expect(calls.map(([, v]) => v)).toEqual([5, 6]);
    expect(reports).toEqual([]);
  });

  it('treats a document without a delta as dealt with up to its version', async () => {
    const { dispatcher, calls } = setup();
    dispatcher.offer(undefined, 5);
    dispatcher.offer({ late: true }, 4);
    await settle();
    expect(calls).toEqual([]);
  });

  it('holds a delta until a handler is set, and refuses a second handler', async () => {
    const dispatcher = new DeltaDispatcher({ report: async () => 6, refresh: async () => undefined, onError: () => undefined });
    dispatcher.offer({ led: 'on' }, 5);
    const calls: number[] = [];
    const off = dispatcher.setHandler((_, version) => void calls.push(version));
    await settle();
    expect(calls).toEqual([5]);
    expect(() => dispatcher.setHandler(() => undefined)).toThrow(expect.objectContaining({ code: 'Conflict' }));
    off();
    expect(() => dispatcher.setHandler(() => undefined)).not.toThrow();
  });
});
