import { describe, expect, it } from 'vitest';
import { CredentialIndex } from './credential-index.js';

/** Connections are plain objects; `closed` records what the index closed, in order. */
function setUp() {
  const closed: string[] = [];
  const index = new CredentialIndex<{ name: string }>((c) => closed.push(c.name));
  const flush = () => new Promise((resolve) => setTimeout(resolve, 0));
  return { index, closed, flush };
}

describe('CredentialIndex', () => {
  it('closes the registered connections of a dropped credential, and only those', () => {
    const { index, closed } = setUp();
    const a = { name: 'a' }, b = { name: 'b' }, c = { name: 'c' };
    index.add(a, ['token:1']);
    index.add(b, ['token:1']);
    index.add(c, ['token:2']);
    for (const conn of [a, b, c]) index.registered(conn);

    expect(index.drop('token:1')).toBe(2);
    expect(closed).toEqual(['a', 'b']);
    expect(index.drop('token:1')).toBe(0);
    expect(index.size).toBe(1);
  });

  it('drops a connection by any of its credentials, once', () => {
    const { index, closed } = setUp();
    const claim = { name: 'claim' };
    index.add(claim, ['claim:k1', 'template:factory']);
    index.registered(claim);

    expect(index.drop('template:factory')).toBe(1);
    expect(index.drop('claim:k1')).toBe(0);
    expect(closed).toEqual(['claim']);
  });

  it('closes a connection dropped between authentication and registration when it registers', async () => {
    const { index, closed, flush } = setUp();
    const early = { name: 'early' };
    index.add(early, ['secret:dev-1']);

    expect(index.drop('secret:dev-1')).toBe(1);
    expect(closed).toEqual([]);
    index.registered(early);
    await flush();
    expect(closed).toEqual(['early']);
  });

  it('forgets ended connections', () => {
    const { index, closed } = setUp();
    const gone = { name: 'gone' };
    index.add(gone, ['token:1']);
    index.registered(gone);
    index.remove(gone);
    index.remove(gone);

    expect(index.drop('token:1')).toBe(0);
    expect(closed).toEqual([]);
    expect(index.size).toBe(0);
  });

  it('tells an authentication that was running when its credential was dropped, and no later one', () => {
    const { index } = setUp();
    const running = index.attempt();
    index.drop('token:1');
    const later = index.attempt();

    expect(running.revokedSince(['token:1'])).toBe(true);
    expect(running.revokedSince(['token:2'])).toBe(false);
    expect(later.revokedSince(['token:1'])).toBe(false);
    running.end();
    later.end();
    // With nothing running, a drop leaves nothing behind for future authentications.
    index.drop('token:3');
    expect(index.attempt().revokedSince(['token:3'])).toBe(false);
  });
});
