/**
 * zod schemas of the shadow routes of the admin API; the payloads themselves come from the wire
 * contract (`device-sdk/protocol/shadow.ts`), so REST and MQTT return the same shapes.
 */
import { z } from 'zod';
import {
  shadowSnapshotSchema,
  shadowUpdateRequestSchema,
  statePatchSchema,
} from '../../device-sdk/protocol/shadow.js';
import { SHADOW_NAME_PATTERN } from '../../device-sdk/protocol/topics.js';

export const shadowNameQuery = z.object({
  name: z.string().regex(SHADOW_NAME_PATTERN, 'shadow names are 1–64 characters of A-Z a-z 0-9 _ - :').optional()
    .describe('A named shadow; omit for the classic shadow.'),
});

/** Operators change `desired` only: `reported` is the device's alone, and is refused here. */
export const patchShadowBody = shadowUpdateRequestSchema
  .extend({ state: z.strictObject({ desired: statePatchSchema.describe('A JSON merge patch; null clears desired.') }) })
  .meta({ id: 'ShadowPatch' });

export const historyQuery = shadowNameQuery.extend({
  limit: z.coerce.number().int().min(1).max(1000).optional().describe('At most this many entries; default all that are kept.'),
});

export const historyEntrySchema = z
  .object({
    kind: z.enum(['update', 'delete']),
    version: z.number().int(),
    timestamp: z.number().int().describe('Epoch seconds.'),
    source: z.enum(['device', 'operator']),
    clientToken: z.string().optional(),
    patch: shadowUpdateRequestSchema.shape.state.optional().describe('Update only: the state as requested, nulls kept.'),
    snapshot: shadowSnapshotSchema.describe('Update: the document after it. Delete: the document removed.'),
  })
  .meta({ id: 'ShadowHistoryEntry' });

export const shadowListSchema = z.object({
  items: z.array(z.object({
    name: z.string().nullable().describe('null for the classic shadow.'),
    version: z.number().int(),
    timestamp: z.number().int(),
  })),
});
