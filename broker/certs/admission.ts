/**
 * Whether a provisioning template admits a registration: a pure decision, table-tested in
 * admission.unit.test.ts. The ACL has already bound the claim session to one serial's topics.
 */
import { CLAIM_CLIENT_PREFIX, type RegisterRequest } from '../../device-sdk/certificates.js';
import { BatonError } from '../../device-sdk/protocol/index.js';
import type { TemplateRecord } from './store.js';

/** The claim session: which template its credential is for, and which serial its client id names. */
export interface ClaimSession {
  template: string;
  serial: string;
}

type Admission = Pick<TemplateRecord, 'name' | 'deviceClasses' | 'allowedSerials'>;

/** Throws the code the device is answered with: Forbidden, InvalidRequest or NotAllowed. */
export function admitRegistration(template: Admission, claim: ClaimSession, request: RegisterRequest): void {
  if (request.templateName !== claim.template || template.name !== claim.template) {
    throw new BatonError('Forbidden', `this claim credential provisions with template ${claim.template} only`);
  }
  if (request.serial !== claim.serial) {
    throw new BatonError('InvalidRequest', `the serial ${request.serial} differs from the topic's ${claim.serial}`, {
      fields: { serial: 'must equal the {serial} of the topic and client id' },
    });
  }
  // The serial becomes the device id, and no device id may start with the claim sessions' prefix.
  if (request.serial.startsWith(CLAIM_CLIENT_PREFIX)) {
    throw new BatonError('InvalidRequest', `a serial (the new device id) may not start with ${CLAIM_CLIENT_PREFIX}`, {
      fields: { serial: `must not start with ${CLAIM_CLIENT_PREFIX}` },
    });
  }
  if (template.deviceClasses !== null && !template.deviceClasses.includes(request.deviceClass)) {
    throw new BatonError('NotAllowed', `template ${template.name} does not admit device class ${request.deviceClass}`);
  }
  if (template.allowedSerials !== null && !template.allowedSerials.includes(request.serial)) {
    throw new BatonError('NotAllowed', `template ${template.name} does not admit serial ${request.serial}`);
  }
}
