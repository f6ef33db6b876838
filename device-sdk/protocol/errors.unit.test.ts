import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorCatalogue, errorCodes } from './errors.js';

describe('error catalogue', () => {
  it('gives every code an HTTP status and a description', () => {
    for (const code of errorCodes) {
      expect(errorCatalogue[code].http).toBeGreaterThanOrEqual(400);
      expect(errorCatalogue[code].description.length).toBeGreaterThan(10);
    }
  });

  it('agrees with the protocol reference, which lists every code', () => {
    const doc = readFileSync(new URL('../../docs/protocol/README.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\| `([A-Za-z]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
    expect(documented).toEqual(errorCodes.map((c) => [c, errorCatalogue[c].http]));
  });
});
