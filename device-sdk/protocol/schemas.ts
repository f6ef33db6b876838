/**
 * zod schemas of the foundation's wire payloads: the single source of their TypeScript types,
 * of the broker's validation and of the protocol reference. Feature modules (shadow.ts,
 * firmware.ts, …) hold their own payloads beside this file.
 */
import { z } from 'zod';
import { errorCodes, type ErrorCode } from './errors.js';

/** `devices/{id}/health`: every field optional, each validated when present. */
export const healthReportSchema = z
  .object({
    firmwareVersion: z.string().min(1).max(64),
    uptimeS: z.number().int().nonnegative(),
    /** Boots since the device was made (kept across reboots): each rise is a reboot, so a crash loop shows. */
    bootCount: z.number().int().nonnegative(),
    cpuPct: z.number().min(0).max(100),
    memFreeBytes: z.number().int().nonnegative(),
    storageFreeBytes: z.number().int().nonnegative(),
    batteryPct: z.number().min(0).max(100),
    rssiDbm: z.number().min(-200).max(0),
    linkKbps: z.number().nonnegative(),
    /** The device's reporting interval; a device silent for 3 × this is `stale`. */
    intervalS: z.number().int().min(1).max(86_400),
  })
  .partial()
  .strict();
export type HealthReport = z.infer<typeof healthReportSchema>;

/** `devices/{id}/errors`: what the broker tells a device about a message it dropped. */
export const deviceErrorSchema = z.object({
  code: z.enum(errorCodes as [ErrorCode, ...ErrorCode[]]),
  message: z.string(),
  /** The topic of the offending message. */
  topic: z.string(),
  timestamp: z.string().datetime(),
});
export type DeviceError = z.infer<typeof deviceErrorSchema>;

export const transportSchema = z.enum(['tcp', 'tls', 'ws', 'wss']);
export type Transport = z.infer<typeof transportSchema>;

export const deviceStatusSchema = z.enum(['online', 'offline', 'stale', 'never-connected', 'pending']);
export type DeviceStatus = z.infer<typeof deviceStatusSchema>;

/** `fleet/events/presence/{id}`: connects, disconnects and status changes, for integrations. */
export const presenceEventSchema = z.object({
  deviceId: z.string(),
  event: z.enum(['connected', 'disconnected', 'stale', 'active']),
  status: deviceStatusSchema,
  at: z.string().datetime(),
  transport: transportSchema.optional(),
  remoteAddress: z.string().optional(),
  /** For disconnects: `client-disconnect`, `connection-lost`, `taken-over`, `kicked`, `server-shutdown`. */
  reason: z.string().optional(),
});
export type PresenceEvent = z.infer<typeof presenceEventSchema>;
