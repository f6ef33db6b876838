import type { Aedes } from 'aedes';

export interface Publisher {
  /** Publishes on behalf of the broker (replies, events); bypasses authorizePublish by design. */
  publish(topic: string, payload: Buffer | string | object, qos?: 0 | 1): Promise<void>;
}

export function createPublisher(aedes: Aedes): Publisher {
  return {
    publish(topic, payload, qos = 1) {
      const body = Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
      return new Promise((resolve, reject) => {
        aedes.publish({ cmd: 'publish', topic, payload: body, qos, retain: false, dup: false }, (err) => (err ? reject(err) : resolve()));
      });
    },
  };
}
