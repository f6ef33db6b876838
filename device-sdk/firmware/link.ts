/**
 * The MQTT link a firmware download needs, and nothing more, so it runs on a raw mqtt.js client
 * today and on the SDK's `DeviceClient` (whose `onTopic` has this exact shape) later.
 */
import { filterMatches } from '../protocol/topic-filter.js';

export interface LinkMessage {
  topic: string;
  payload: Buffer;
}

export interface FirmwareLink {
  /** Subscribes `filter` and hands its messages to `handler`; resolves, once granted, with an unsubscribe. */
  onTopic(filter: string, handler: (message: LinkMessage) => void): Promise<() => Promise<void>>;
  /** Requests are small JSON documents. */
  publish(topic: string, payload: string, qos: 0 | 1): Promise<void>;
  /**
   * Optional: calls `listener` after every reconnect (subscriptions restored) and returns a
   * function that stops it. The broker forgets a device's queued blocks when it disconnects, so
   * the download asks again at once; without this hook it asks after its stall timeout.
   */
  onReconnect?(listener: () => void): () => void;
}

/** The part of an mqtt.js `MqttClient` the adapter uses (structural: the SDK does not import mqtt). */
export interface MqttJsClient {
  subscribeAsync(filter: string, options: { qos: 0 | 1 }): Promise<unknown>;
  unsubscribeAsync(filter: string): Promise<unknown>;
  publishAsync(topic: string, payload: string, options: { qos: 0 | 1 }): Promise<unknown>;
  on(event: 'message', listener: (topic: string, payload: Buffer) => void): unknown;
  on(event: 'connect', listener: () => void): unknown;
  off(event: 'message', listener: (topic: string, payload: Buffer) => void): unknown;
  off(event: 'connect', listener: () => void): unknown;
}

/** A `FirmwareLink` over an mqtt.js client (which restores its subscriptions after reconnects itself). */
export function mqttJsLink(client: MqttJsClient): FirmwareLink {
  return {
    async onTopic(filter, handler) {
      const listener = (topic: string, payload: Buffer) => {
        if (filterMatches(filter, topic)) handler({ topic, payload });
      };
      client.on('message', listener);
      try {
        await client.subscribeAsync(filter, { qos: 1 });
      } catch (err) {
        client.off('message', listener);
        throw err;
      }
      return async () => {
        client.off('message', listener);
        await client.unsubscribeAsync(filter).catch(() => undefined);
      };
    },
    async publish(topic, payload, qos) {
      await client.publishAsync(topic, payload, { qos });
    },
    onReconnect(listener) {
      client.on('connect', listener);
      return () => client.off('connect', listener);
    },
  };
}
