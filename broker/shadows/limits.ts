/**
 * Shadow limits, and parsing of raw MQTT payloads into typed requests.
 *
 * Parsing is a list of named steps, cheapest and most hostile-input-proof first: the byte size is
 * checked before decoding, depth before any recursive code (zod, merge) sees the value.
 */
import { z } from 'zod';
import { BatonError } from '../../device-sdk/protocol/errors.js';
import {
  CLIENT_TOKEN_MAX_BYTES,
  shadowTokenRequestSchema,
  shadowUpdateRequestSchema,
  type JsonObject,
  type ShadowTokenRequest,
  type ShadowUpdateRequest,
} from '../../device-sdk/protocol/shadow.js';
import { hasProtoKey, jsonBytes, jsonDepth } from './json.js';
import { withClientToken } from '../mqtt/request-reply.js';

const limitsSchema = z.strictObject({
  /** Raw request payload, bytes. Default 128 KiB: AWS IoT Core's MQTT payload maximum. */
  maxRequestBytes: z.int().positive().default(128 * 1024),
  /** Compact `{"desired":…,"reported":…}` of the *resulting* document, bytes. Default 8 KiB (AWS). */
  maxStateBytes: z.int().positive().default(8 * 1024),
  /** Nesting levels inside `desired` or `reported` (`{"a":1}` is 1). Default 6 (AWS). */
  maxDepth: z.int().positive().default(6),
  /** `clientToken`, UTF-8 bytes. Default 64 (AWS). */
  maxClientTokenBytes: z.int().positive().default(CLIENT_TOKEN_MAX_BYTES),
});
export type ShadowLimits = Readonly<z.infer<typeof limitsSchema>>;

/** Validates limits once, fills defaults, freezes; throws a ZodError on a bad configuration. */
export function resolveShadowLimits(options: Partial<ShadowLimits> = {}): ShadowLimits {
  return Object.freeze(limitsSchema.parse(options));
}

export const defaultShadowLimits: ShadowLimits = resolveShadowLimits();

// --- steps -------------------------------------------------------------------------------------

function checkBytes(what: string, bytes: number, limit: number): void {
  if (bytes > limit) throw new BatonError('PayloadTooLarge', `${what} is ${bytes} bytes; the limit is ${limit}`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(utf8.decode(payload));
  } catch {
    throw new BatonError('InvalidJSON', 'payload is not valid UTF-8 JSON');
  }
}

/** The request wraps each section in two levels (`{ "state": { "desired": … } }`). */
function checkRawDepth(raw: unknown, limits: ShadowLimits): void {
  if (jsonDepth(raw) > limits.maxDepth + 2) throw tooDeep(limits);
}

const tooDeep = (limits: ShadowLimits) =>
  new BatonError('TooDeep', `desired and reported may nest at most ${limits.maxDepth} levels`);

function checkNoProtoKey(value: unknown): void {
  if (hasProtoKey(value)) throw new BatonError('InvalidRequest', 'the key "__proto__" is not allowed');
}

function validate<T>(schema: z.ZodType<T>, raw: unknown): T {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const first = issues[0];
  const message = first === undefined ? 'invalid request' : `${first.path || '(root)'}: ${first.message}`;
  throw new BatonError('InvalidRequest', message, { issues });
}

function checkClientToken(clientToken: string | undefined, limits: ShadowLimits): void {
  if (clientToken !== undefined && Buffer.byteLength(clientToken, 'utf8') > limits.maxClientTokenBytes) {
    throw new BatonError('InvalidRequest', `clientToken exceeds ${limits.maxClientTokenBytes} bytes`);
  }
}

/** The token to echo on a rejection, if the payload carries a usable one. */
function echoableToken(raw: unknown, limits: ShadowLimits): string | undefined {
  if (typeof raw !== 'object' || raw === null || !('clientToken' in raw)) return undefined;
  const token = raw.clientToken;
  if (typeof token !== 'string' || token.length === 0) return undefined;
  return Buffer.byteLength(token, 'utf8') <= limits.maxClientTokenBytes ? token : undefined;
}

// --- entry points ------------------------------------------------------------------------------

/**
 * Checks an already-typed update against the limits. The MQTT path reaches it through
 * `parseUpdateRequest`; `applyUpdate` calls it again so requests built elsewhere (the admin API)
 * meet the same limits.
 */
export function checkUpdateLimits(request: ShadowUpdateRequest, limits: ShadowLimits): void {
  for (const section of [request.state.desired, request.state.reported]) {
    if (section && jsonDepth(section) > limits.maxDepth) throw tooDeep(limits);
  }
  checkNoProtoKey(request.state);
  checkClientToken(request.clientToken, limits);
}

/** Checks the size of the document an update would produce (AWS measures state, not metadata). */
export function checkStateSize(state: { desired: JsonObject; reported: JsonObject }, limits: ShadowLimits): void {
  checkBytes('the resulting state', jsonBytes(state), limits.maxStateBytes);
}

/** `…/update` payload → request; throws PayloadTooLarge, InvalidJSON, TooDeep or InvalidRequest. */
export function parseUpdateRequest(payload: Buffer, limits: ShadowLimits = defaultShadowLimits): ShadowUpdateRequest {
  checkBytes('the payload', payload.length, limits.maxRequestBytes);
  const raw = parseJson(payload);
  return withClientToken(echoableToken(raw, limits), () => {
    checkRawDepth(raw, limits);
    checkNoProtoKey(raw);
    const request = validate(shadowUpdateRequestSchema, raw);
    checkUpdateLimits(request, limits);
    return request;
  });
}

/** `…/get` and `…/delete` payloads; an empty payload is a request without a token. */
export function parseTokenRequest(payload: Buffer, limits: ShadowLimits = defaultShadowLimits): ShadowTokenRequest {
  if (payload.length === 0) return {};
  checkBytes('the payload', payload.length, limits.maxRequestBytes);
  const raw = parseJson(payload);
  return withClientToken(echoableToken(raw, limits), () => {
    checkRawDepth(raw, limits);
    const request = validate(shadowTokenRequestSchema, raw);
    checkClientToken(request.clientToken, limits);
    return request;
  });
}
