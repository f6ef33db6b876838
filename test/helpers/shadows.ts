/**
 * Shadow requests over real MQTT connections, as a device makes them: subscribe to
 * `devices/{id}/shadow/#` first, then publish and wait for `…/accepted` or `…/rejected`.
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import { topics } from '../../device-sdk/protocol/topics.js';
import { nextMessage, type TestBaton } from './service.js';

export type ShadowOp = 'get' | 'update' | 'delete';

export interface ShadowReply {
  outcome: 'accepted' | 'rejected';
  body: any;
}

/** Publishes one request (an object is sent as JSON, a string or Buffer as is) and awaits its reply. */
export async function shadowRequest(client: MqttClient, deviceId: string, op: ShadowOp, body: unknown = '', shadowName?: string): Promise<ShadowReply> {
  const base = topics.shadow(deviceId, shadowName, op);
  const reply = nextMessage(client, (t) => t === `${base}/accepted` || t === `${base}/rejected`);
  const payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  await client.publishAsync(base, payload, { qos: 1 });
  const { topic, json } = await reply;
  return { outcome: topic.endsWith('/accepted') ? 'accepted' : 'rejected', body: json };
}

export interface ShadowDevice {
  id: string;
  secret: string;
  client: MqttClient;
  request(op: ShadowOp, body?: unknown, shadowName?: string): Promise<ShadowReply>;
}

/** Registers and connects a device subscribed (QoS 1) to its shadow replies. */
export async function shadowDevice(baton: TestBaton, id: string, options: IClientOptions = {}): Promise<ShadowDevice> {
  const device = await baton.createDevice(id);
  return attach(baton, device, options);
}

/** Connects an already registered device and subscribes it to its shadow topics. */
export async function attach(baton: TestBaton, device: { id: string; secret: string }, options: IClientOptions = {}): Promise<ShadowDevice> {
  const client = await baton.connectDevice(device, options);
  await client.subscribeAsync(topics.shadowReplies(device.id), { qos: 1 });
  return { ...device, client, request: (op, body, shadowName) => shadowRequest(client, device.id, op, body, shadowName) };
}

/** Collects every message `client` receives on topics matching `predicate`, parsed as JSON. */
export function collect(client: MqttClient, predicate: (topic: string) => boolean): Array<{ topic: string; json: any }> {
  const seen: Array<{ topic: string; json: any }> = [];
  client.on('message', (topic, payload) => {
    if (predicate(topic)) seen.push({ topic, json: JSON.parse(payload.toString()) });
  });
  return seen;
}
