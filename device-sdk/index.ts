/**
 * Baton Device SDK: the one entry point. See README.md in this folder.
 *
 *     import { connect } from './device-sdk/index.js';
 *     const client = await connect({ url, deviceId, secret });
 *     await client.telemetry({ tempC: 21.5 });
 */
import { DeviceClient } from './client.js';
import type { ConnectOptions } from './options.js';

/** Connects a device; resolves once it is connected and subscribed, rejects with a `BatonError` if the first attempt fails. */
export function connect(options: ConnectOptions): Promise<DeviceClient> {
  return DeviceClient.connect(options);
}

export { DeviceClient, type ClientStats, type DeviceClientEvents } from './client.js';
export type { ConnectOptions, ResolvedOptions } from './options.js';
export type { TelemetryOptions } from './telemetry.js';
export type { HealthSample } from './health.js';
export type { RequestOptions } from './requests.js';
export { Shadow, REPORT_ATTEMPTS, type ShadowRequestOptions } from './shadow.js';
export type { DeltaHandler, DeltaResult } from './shadow-deltas.js';
export type { Jobs, JobsOptions, JobContext, JobHandler, JobResult } from './jobs.js';
export type { JsonObject, ShadowDocument, ShadowUpdateAccepted } from './protocol/shadow.js';
export type { TopicHandler, TopicMessage, Unsubscribe } from './subscriptions.js';
export type { Clock } from './clock.js';
export { nextDelay, backoffCeiling, type BackoffOptions } from './backoff.js';
export { OfflineQueue } from './offline-queue.js';
export { BatonError, isBatonError, errorCatalogue, type ErrorCode } from './protocol/errors.js';
export type { DeviceError, HealthReport } from './protocol/schemas.js';
export { topics } from './protocol/topics.js';
export { rotateCertificate, useCertificate, createKeyAndCsr, type NewCertificate, type RotateOptions } from './certificates.js';
export { provision, type ProvisionOptions, type ProvisionedDevice, type ClaimCredential } from './provision.js';
