import { BatonError } from '../../../device-sdk/protocol/index.js';

/** Runs an INSERT; a duplicate primary key becomes the API's `Conflict` instead of a 500. */
export function insertUnique(insert: () => void, what: string): void {
  try {
    insert();
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
      throw new BatonError('Conflict', `${what} already exists`);
    }
    throw err;
  }
}
