import { describe, expect, it } from 'vitest';
import { normalizeSerial } from './node-cert.js';

describe('normalizeSerial', () => {
  it.each([
    ['0A:8F:00:11', '0a8f0011'],
    ['00fa8f', 'fa8f'],
    ['a8f', '0a8f'],
    ['00', '00'],
    ['0A 8F', '0a8f'],
  ])('spells %s as %s', (input, expected) => {
    expect(normalizeSerial(input)).toBe(expected);
  });
});
