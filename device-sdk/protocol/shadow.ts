/**
 * Wire payloads of device shadows, shared by the broker and the device SDK.
 *
 * The shapes follow the AWS IoT Device Shadow service (`…/shadow/update`, `/accepted`, `/rejected`,
 * `/delta`, `/documents`), so a device written against AWS needs only its topic prefix changed.
 * Where Baton differs it says so here:
 * - every `timestamp` is epoch **seconds**, as in AWS;
 * - `state.desired` and `state.reported` are always present in documents (`{}` when empty), so
 *   readers need no `?? {}`; AWS omits empty sections;
 * - metadata treats an array as one leaf (`{ timestamp }`), because arrays replace as a whole;
 * - rejected replies carry a stable string `code` from `errors.ts`, not AWS's numeric one.
 */
import { z } from 'zod';
import { errorCodes, type ErrorCode } from './errors.js';
import { DEVICE_ID_PATTERN, SHADOW_NAME_PATTERN } from './topics.js';

/** AWS's cap on `clientToken`, in UTF-8 bytes; the broker may be configured otherwise. */
export const CLIENT_TOKEN_MAX_BYTES = 64;

// --- JSON ------------------------------------------------------------------------------------

export const jsonValueSchema = z.json();
export type JsonValue = z.infer<typeof jsonValueSchema>;
export type JsonObject = { [key: string]: JsonValue };
export const jsonObjectSchema = z.record(z.string(), jsonValueSchema);

// --- metadata: mirrors state, `{ timestamp }` on every leaf ------------------------------------

export interface MetadataLeaf {
  timestamp: number;
}
export type MetadataTree = { [key: string]: MetadataNode };
export type MetadataNode = MetadataLeaf | MetadataTree;

const timestampSchema = z.int().min(0);
export const metadataLeafSchema = z.strictObject({ timestamp: timestampSchema });
/**
 * A state key may itself be called `timestamp`: its metadata is then `{ timestamp: { timestamp } }`,
 * an object rather than a number, so leaf and subtree never read alike.
 */
export const metadataNodeSchema: z.ZodType<MetadataNode> = z.lazy(() =>
  z.union([metadataLeafSchema, metadataTreeSchema]),
);
export const metadataTreeSchema: z.ZodType<MetadataTree> = z.lazy(() =>
  z.record(z.string(), metadataNodeSchema),
);

// --- requests (device or operator → broker) -------------------------------------------------

const clientTokenSchema = z.string().min(1);
const versionSchema = z.int().min(0);

/** A state section in a request: a JSON merge patch, or `null` to clear the whole section (AWS). */
export const statePatchSchema = jsonObjectSchema.nullable();

export const shadowUpdateRequestSchema = z.strictObject({
  state: z
    .strictObject({ desired: statePatchSchema.optional(), reported: statePatchSchema.optional() })
    .refine((s) => s.desired !== undefined || s.reported !== undefined, {
      message: 'state must contain desired and/or reported',
    }),
  /** Optimistic lock: the update is rejected with VersionConflict unless it equals the current version. */
  version: versionSchema.optional(),
  clientToken: clientTokenSchema.optional(),
});
export type ShadowUpdateRequest = z.infer<typeof shadowUpdateRequestSchema>;
export type ShadowStatePatch = ShadowUpdateRequest['state'];

/** `get` and `delete` take only a token; an empty payload is read as `{}`. */
export const shadowTokenRequestSchema = z.strictObject({ clientToken: clientTokenSchema.optional() });
export type ShadowTokenRequest = z.infer<typeof shadowTokenRequestSchema>;

// --- replies (broker → device or operator) --------------------------------------------------

const stateSectionsSchema = z.strictObject({ desired: jsonObjectSchema, reported: jsonObjectSchema });
const metadataSectionsSchema = z.strictObject({ desired: metadataTreeSchema, reported: metadataTreeSchema });

/** The whole document, as on `get/accepted`; `delta` is present only when non-empty. */
export const shadowDocumentSchema = z.strictObject({
  state: stateSectionsSchema.extend({ delta: jsonObjectSchema.optional() }),
  metadata: metadataSectionsSchema,
  version: versionSchema,
  timestamp: timestampSchema,
  clientToken: clientTokenSchema.optional(),
});
export type ShadowDocument = z.infer<typeof shadowDocumentSchema>;

/**
 * `update/accepted` echoes the request's state (nulls included, as AWS does) and the metadata of
 * exactly those leaves; a section cleared with `null` gets a single `{ timestamp }`.
 */
export const shadowUpdateAcceptedSchema = z.strictObject({
  state: z.strictObject({ desired: statePatchSchema.optional(), reported: statePatchSchema.optional() }),
  metadata: z.strictObject({ desired: metadataNodeSchema.optional(), reported: metadataNodeSchema.optional() }),
  version: versionSchema,
  timestamp: timestampSchema,
  clientToken: clientTokenSchema.optional(),
});
export type ShadowUpdateAccepted = z.infer<typeof shadowUpdateAcceptedSchema>;

/** `delete/accepted`: the version that was deleted (the counter survives deletion, as in AWS). */
export const shadowDeleteAcceptedSchema = z.strictObject({
  version: versionSchema,
  timestamp: timestampSchema,
  clientToken: clientTokenSchema.optional(),
});
export type ShadowDeleteAccepted = z.infer<typeof shadowDeleteAcceptedSchema>;

export const shadowRejectedSchema = z.strictObject({
  code: z.enum(errorCodes as [ErrorCode, ...ErrorCode[]]),
  message: z.string(),
  clientToken: clientTokenSchema.optional(),
  timestamp: timestampSchema,
});
export type ShadowRejected = z.infer<typeof shadowRejectedSchema>;

/** `update/delta`: the whole outstanding delta and the desired-side metadata of its leaves. */
export const shadowDeltaSchema = z.strictObject({
  state: jsonObjectSchema,
  metadata: metadataTreeSchema,
  version: versionSchema,
  timestamp: timestampSchema,
});
export type ShadowDelta = z.infer<typeof shadowDeltaSchema>;

/** One side of `update/documents`: the document without its delta, as AWS sends it. */
export const shadowSnapshotSchema = z.strictObject({
  state: stateSectionsSchema,
  metadata: metadataSectionsSchema,
  version: versionSchema,
});
export type ShadowSnapshot = z.infer<typeof shadowSnapshotSchema>;

/** `update/documents`; `previous` is null when the update created (or re-created) the shadow. */
export const shadowDocumentsSchema = z.strictObject({
  previous: shadowSnapshotSchema.nullable(),
  current: shadowSnapshotSchema,
  timestamp: timestampSchema,
  clientToken: clientTokenSchema.optional(),
});
export type ShadowDocuments = z.infer<typeof shadowDocumentsSchema>;

/**
 * `fleet/events/shadow/{deviceId}`, for integrations. `shadowName` is null for the classic
 * (unnamed) shadow; `current` is null when the shadow was deleted.
 */
export const shadowFleetEventSchema = z.strictObject({
  deviceId: z.string().regex(DEVICE_ID_PATTERN),
  shadowName: z.string().regex(SHADOW_NAME_PATTERN).nullable(),
  previous: shadowSnapshotSchema.nullable(),
  current: shadowSnapshotSchema.nullable(),
  timestamp: timestampSchema,
});
export type ShadowFleetEvent = z.infer<typeof shadowFleetEventSchema>;
