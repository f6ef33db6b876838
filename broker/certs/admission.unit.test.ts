import { describe, expect, it } from 'vitest';
import type { RegisterRequest } from '../../device-sdk/certificates.js';
import { BatonError, type ErrorCode } from '../../device-sdk/protocol/index.js';
import { admitRegistration } from './admission.js';

const open = { name: 'factory', deviceClasses: null, allowedSerials: null };
const strict = { name: 'factory', deviceClasses: ['pump', 'valve'], allowedSerials: ['SN-1', 'SN-2'] };
const claim = { template: 'factory', serial: 'SN-1' };
const request: RegisterRequest = { templateName: 'factory', serial: 'SN-1', deviceClass: 'pump', csr: '(pem)' };

function outcome(run: () => void): ErrorCode | 'admitted' {
  try {
    run();
    return 'admitted';
  } catch (err) {
    if (err instanceof BatonError) return err.code;
    throw err;
  }
}

describe('admitRegistration', () => {
  it.each<[string, typeof open | typeof strict, Partial<RegisterRequest>, ErrorCode | 'admitted']>([
    ['any class and serial by an open template', open, { deviceClass: 'anything', serial: 'SN-1' }, 'admitted'],
    ['a listed class and serial', strict, {}, 'admitted'],
    ['another listed class', strict, { deviceClass: 'valve' }, 'admitted'],
    ['a class outside the list', strict, { deviceClass: 'sensor' }, 'NotAllowed'],
    ['another template than the claim\'s', open, { templateName: 'other' }, 'Forbidden'],
    ['a serial other than the topic\'s', open, { serial: 'SN-2' }, 'InvalidRequest'],
  ])('%s', (_name, template, change, expected) => {
    expect(outcome(() => admitRegistration(template, claim, { ...request, ...change }))).toBe(expected);
  });

  it('refuses a serial outside the allow-list (the claim session is for that serial)', () => {
    const elsewhere = { template: 'factory', serial: 'SN-9' };
    expect(outcome(() => admitRegistration(strict, elsewhere, { ...request, serial: 'SN-9' }))).toBe('NotAllowed');
  });

  it('refuses a serial that would make a device id starting with provision- (the claim sessions\' prefix)', () => {
    const reserved = { template: 'factory', serial: 'provision-1' };
    expect(outcome(() => admitRegistration(open, reserved, { ...request, serial: 'provision-1' }))).toBe('InvalidRequest');
  });

  it('refuses a claim whose template is not the one looked up', () => {
    expect(outcome(() => admitRegistration({ ...open, name: 'other' }, claim, request))).toBe('Forbidden');
  });
});
