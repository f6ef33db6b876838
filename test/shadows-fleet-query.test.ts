import { describe, expect, it } from 'vitest';
import { shadowDevice } from './helpers/shadows.js';
import { startBaton, type TestBaton } from './helpers/service.js';

const ids = async (baton: TestBaton, query: string): Promise<string[]> => {
  const res = await baton.api('GET', `/api/v1/devices?${query}`);
  if (res.status !== 200) throw new Error(`${query}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.items.map((d: { id: string }) => d.id);
};

/** Four devices: `old` has not applied fw 1.3.0 yet, `done` has, `other` reports text, `none` has no shadow. */
async function fleet(): Promise<TestBaton> {
  const baton = await startBaton();
  const devices = {
    old: { reported: { fw: '1.2.0', count: 3, ok: true, net: { mode: 'eco' } } },
    done: { reported: { fw: '1.3.0', count: '3', ok: false, tags: ['a', 'b'] } },
    other: { reported: { fw: 'beta', count: 30, net: { mode: 'off' } } },
  };
  for (const [id, state] of Object.entries(devices)) {
    const dev = await shadowDevice(baton, id);
    await dev.request('update', { state });
    await dev.client.endAsync();
  }
  await baton.createDevice('none');
  for (const id of ['old', 'done']) await baton.api('PATCH', `/api/v1/devices/${id}/shadow`, { state: { desired: { fw: '1.3.0' } } });
  await baton.api('PATCH', '/api/v1/devices/other/shadow?name=cfg', { state: { desired: { rate: 5 } } });
  return baton;
}

describe('fleet query on shadow state: GET /api/v1/devices?reported.…&desired.…&hasDelta=…', () => {
  it('matches leaves compared as JSON, ANDs conditions, ORs repeated values, and checks hasDelta', async () => {
    const baton = await fleet();
    const cases: Array<[string, string[]]> = [
      ['reported.fw=1.2.0', ['old']],
      ['reported.count=3', ['old']],
      ['reported.count=%223%22', ['done']],
      ['reported.ok=true', ['old']],
      ['reported.ok=false', ['done']],
      ['reported.net.mode=eco', ['old']],
      ['reported.tags=%5B%22a%22%2C%22b%22%5D', ['done']],
      ['reported.tags=a', []],
      ['desired.fw=1.3.0', ['done', 'old']],
      ['hasDelta=true', ['old']],
      ['hasDelta=false', ['done', 'other']],
      ['desired.fw=1.3.0&hasDelta=true', ['old']],
      ['reported.fw=1.2.0&reported.fw=beta', ['old', 'other']],
      ['desired.fw=1.3.0&reported.ok=false', ['done']],
      ['reported.nope=1', []],
      ['shadow=cfg', ['other']],
      ['shadow=cfg&hasDelta=true', ['other']],
      ['shadow=cfg&desired.rate=5', ['other']],
      ['shadow=cfg&reported.fw=beta', []],
      ['', ['done', 'none', 'old', 'other']],
    ];
    for (const [query, expected] of cases) expect([query, await ids(baton, query)]).toEqual([query, expected]);
  });

  it('combines with the other filters and pages with a cursor', async () => {
    const baton = await fleet();
    const first = await baton.api('GET', '/api/v1/devices?hasDelta=false&limit=1');
    expect(first.body.items.map((d: any) => d.id)).toEqual(['done']);
    const second = await baton.api('GET', `/api/v1/devices?hasDelta=false&limit=1&cursor=${first.body.nextCursor}`);
    expect([second.body.items.map((d: any) => d.id), second.body.nextCursor]).toEqual([['other'], null]);
    expect(await ids(baton, 'status=offline&desired.fw=1.3.0')).toEqual(['done', 'old']);
  });

  it('follows updates and deletes', async () => {
    const baton = await fleet();
    await baton.api('DELETE', '/api/v1/devices/old/shadow');
    expect(await ids(baton, 'desired.fw=1.3.0')).toEqual(['done']);
    await baton.api('PATCH', '/api/v1/devices/done/shadow', { state: { desired: { fw: '1.4.0' } } });
    expect(await ids(baton, 'hasDelta=true')).toEqual(['done']);
    await baton.api('DELETE', '/api/v1/devices/done');
    expect(await ids(baton, 'hasDelta=true')).toEqual([]);
  });

  it.each(['reportd.fw=1', 'reported=1', 'reported.a..b=1', 'hasDelta=yes', 'reported.a=null', 'reported.a=%7B%7D', 'shadow=bad.name', 'unknown=1'])(
    'refuses %s with InvalidRequest',
    async (query) => {
      const baton = await startBaton();
      const res = await baton.api('GET', `/api/v1/devices?${query}`);
      expect([res.status, res.body.code]).toEqual([400, 'InvalidRequest']);
    },
  );
});
