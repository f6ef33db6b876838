/**
 * MQTT 3.1.1 conformance in anonymous mode, one test per behaviour that the Eclipse Paho
 * interoperability client suite (paho.mqtt.testing, interoperability/client_test.py) checks, with
 * Mosquitto as the reference. The suite's topics are kept: TopicA, TopicA/B, Topic/C, TopicA/C,
 * /TopicA. Where mqtt.js would acknowledge or keep alive on its own, a raw socket speaks for the
 * client (a silent subscriber, a client that never pings, a second CONNECT on one socket).
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { connectPacket, frame, rawConnack, str } from './helpers/raw-mqtt.js';
import { eventually, startBaton, subscribeGranted, whenClosed, type TestBaton } from './helpers/service.js';

interface Received {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
  dup: boolean;
  /** The packet identifier (QoS 1 and 2 only). */
  messageId?: number;
}

interface Recorder {
  client: MqttClient;
  connack: IConnackPacket;
  /** Every PUBLISH packet the client received, from the first byte after CONNACK on. */
  received: Received[];
}

const opened: MqttClient[] = [];
const rawSockets: Socket[] = [];
afterEach(async () => {
  for (const socket of rawSockets.splice(0)) socket.destroy();
  await Promise.all(opened.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
});

/**
 * An mqtt.js client that records PUBLISH packets (with their DUP, QoS and RETAIN flags) from before
 * CONNACK, so messages a broker sends right after CONNACK (queued, redelivered) are not missed.
 */
async function open(baton: TestBaton, options: IClientOptions): Promise<Recorder> {
  const client = mqtt.connect(baton.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  opened.push(client);
  const received: Received[] = [];
  client.on('packetreceive', (p) => {
    if (p.cmd !== 'publish') return;
    received.push({ topic: p.topic, payload: p.payload.toString(), qos: p.qos, retain: p.retain, dup: p.dup, messageId: p.messageId });
  });
  const connack = await new Promise<IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve);
    client.on('error', reject); // a no-op once connected: errors after CONNACK show as closes/timeouts
  });
  return { client, connack, received };
}

/** Resolves with the first received message matching `predicate` (already received or later). */
const arrival = (r: Recorder | RawClient, predicate: (m: Received) => boolean): Promise<Received> =>
  eventually(() => r.received.find(predicate));

/** The outcome of a QoS > 0 publish: the broker acknowledged it, or closed the connection. */
function publishOutcome(client: MqttClient, topic: string, payload: string, qos: 1 | 2): Promise<'acknowledged' | 'connection closed'> {
  return Promise.race([
    client.publishAsync(topic, payload, { qos }).then(() => 'acknowledged' as const),
    whenClosed(client).then(() => 'connection closed' as const),
  ]);
}

// ---- a minimal raw MQTT 3.1.1 client -------------------------------------------------------------



interface RawConnect {
  clientId: string;
  clean: boolean;
  keepalive: number;
  protocolName?: string;
  will?: { topic: string; payload: string; qos: 0 | 1 | 2 };
}

function rawConnectPacket(o: RawConnect): Buffer {
  const flags = (o.clean ? 0x02 : 0) | (o.will ? 0x04 | (o.will.qos << 3) : 0);
  return frame(0x10, Buffer.concat([
    str(o.protocolName ?? 'MQTT'), Buffer.from([4, flags, o.keepalive >> 8, o.keepalive & 0xff]), str(o.clientId),
    ...(o.will ? [str(o.will.topic), str(o.will.payload)] : []),
  ]));
}

const subscribePacket = (messageId: number, filter: string, qos: 0 | 1 | 2) =>
  frame(0x82, Buffer.concat([Buffer.from([messageId >> 8, messageId & 0xff]), str(filter), Buffer.from([qos])]));

const DISCONNECT = Buffer.from([0xe0, 0x00]);

interface RawPacket {
  type: number;
  flags: number;
  body: Buffer;
}

/** A raw socket that sends only what the test writes: it never acknowledges, never pings. */
interface RawClient {
  socket: Socket;
  packets: RawPacket[];
  received: Received[];
  closed: Promise<void>;
  send(packet: Buffer): void;
  /** Resolves with the first packet of `type` (1 CONNECT … 14 DISCONNECT) received so far or later. */
  packet(type: number): Promise<RawPacket>;
}

function rawClient(port: number): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1');
    rawSockets.push(socket);
    const packets: RawPacket[] = [];
    const received: Received[] = [];
    let buffer = Buffer.alloc(0);
    socket.on('data', (data) => {
      buffer = Buffer.concat([buffer, data]);
      for (;;) {
        let length = 0;
        let multiplier = 1;
        let i = 1;
        for (; i < buffer.length && i <= 4; i++) {
          length += (buffer[i]! & 0x7f) * multiplier;
          multiplier *= 128;
          if ((buffer[i]! & 0x80) === 0) break;
        }
        if (i >= buffer.length || buffer.length < i + 1 + length) return;
        const packet = { type: buffer[0]! >> 4, flags: buffer[0]! & 0x0f, body: buffer.subarray(i + 1, i + 1 + length) };
        buffer = buffer.subarray(i + 1 + length);
        packets.push(packet);
        if (packet.type === 3) {
          const qos = (packet.flags >> 1) & 3;
          const topicLength = packet.body.readUInt16BE(0);
          const payloadStart = 2 + topicLength + (qos > 0 ? 2 : 0);
          received.push({
            topic: packet.body.subarray(2, 2 + topicLength).toString(),
            payload: packet.body.subarray(payloadStart).toString(),
            qos,
            retain: (packet.flags & 1) === 1,
            dup: (packet.flags & 8) === 8,
            ...(qos > 0 ? { messageId: packet.body.readUInt16BE(2 + topicLength) } : {}),
          });
        }
      }
    });
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', reject); // a no-op once connected: a reset shows as `closed`
    socket.once('connect', () =>
      resolve({
        socket, packets, received, closed,
        send: (p) => socket.write(p),
        packet: (type) => eventually(() => packets.find((p) => p.type === type)),
      }),
    );
  });
}

/** A raw client that has sent CONNECT and got CONNACK 0. */
async function rawConnected(port: number, o: RawConnect): Promise<RawClient> {
  const raw = await rawClient(port);
  raw.send(rawConnectPacket(o));
  const connack = await raw.packet(2);
  expect(connack.body[1]).toBe(0);
  return raw;
}

// ---- the behaviours -------------------------------------------------------------------------------

describe('MQTT 3.1.1 conformance (the Paho interoperability client suite, anonymous mode)', () => {
  describe('basic (Paho testBasic)', () => {
    it('delivers publishes at QoS 0, 1 and 2 to a QoS 2 subscription, each at its publish QoS', async () => {
      const baton = await startBaton({ allowAnonymous: true });
      const a = await open(baton, { clientId: 'myclientid' });
      await a.client.subscribeAsync('TopicA', { qos: 2 });

      await a.client.publishAsync('TopicA', 'qos 0', { qos: 0 });
      await a.client.publishAsync('TopicA', 'qos 1', { qos: 1 });
      await a.client.publishAsync('TopicA', 'qos 2', { qos: 2 });

      await eventually(() => (a.received.length >= 3 ? true : undefined));
      expect(a.received.map(({ topic, payload, qos }) => ({ topic, payload, qos }))).toEqual([
        { topic: 'TopicA', payload: 'qos 0', qos: 0 },
        { topic: 'TopicA', payload: 'qos 1', qos: 1 },
        { topic: 'TopicA', payload: 'qos 2', qos: 2 },
      ]);
    });

    it('answers a clean-session reconnect with session present 0 [MQTT-3.2.2-1]', async () => {
      const baton = await startBaton({ allowAnonymous: true });
      const first = await open(baton, { clientId: 'myclientid', clean: true });
      await first.client.subscribeAsync('TopicA', { qos: 2 });
      await first.client.endAsync();

      const second = await open(baton, { clientId: 'myclientid', clean: true });

      expect(second.connack.sessionPresent).toBe(false);
    });

    it('closes the connection on a second CONNECT on the same socket [MQTT-3.1.0-2]', async () => {
      const baton = await startBaton({ allowAnonymous: true });
      const raw = await rawConnected(baton.mqttPort, { clientId: 'myclientid', clean: true, keepalive: 0 });

      raw.send(rawConnectPacket({ clientId: 'myclientid', clean: true, keepalive: 0 }));

      await raw.closed;
      expect(raw.packets.filter((p) => p.type === 2)).toHaveLength(1);
    });

    it('does not accept a CONNECT with a wrong protocol name [MQTT-3.1.2-1]', async () => {
      const baton = await startBaton({ allowAnonymous: true });
      const raw = await rawClient(baton.mqttPort);

      raw.send(rawConnectPacket({ clientId: 'myclientid', clean: true, keepalive: 0, protocolName: 'hj' }));

      await raw.closed;
      expect(raw.packets.filter((p) => p.type === 2 && p.body[1] === 0)).toEqual([]);
    });
  });

  describe('retained messages (Paho test_retained_messages)', () => {
    it('sends retained messages published at QoS 0, 1 and 2 to a new wildcard subscription, with RETAIN set', async () => {
      const baton = await startBaton({ allowAnonymous: true });
      const a = await open(baton, { clientId: 'myclientid' });
      await a.client.publishAsync('TopicA/B', 'qos 0', { qos: 0, retain: true });
      await a.client.publishAsync('Topic/C', 'qos 1', { qos: 1, retain: true });
      await a.client.publishAsync('TopicA/C', 'qos 2', { qos: 2, retain: true });

      const sub = await open(baton, { clientId: 'myclientid2' });
      await sub.client.subscribeAsync('+/+', { qos: 2 });

      await eventually(() => (sub.received.length >= 3 ? true : undefined));
      const byTopic = [...sub.received].sort((x, y) => x.topic.localeCompare(y.topic));
      expect(byTopic.map(({ topic, payload, qos, retain }) => ({ topic, payload, qos, retain }))).toEqual([
        { topic: 'Topic/C', payload: 'qos 1', qos: 1, retain: true },
        { topic: 'TopicA/B', payload: 'qos 0', qos: 0, retain: true },
        { topic: 'TopicA/C', payload: 'qos 2', qos: 2, retain: true },
      ]);
    });

    it('clears a retained message with an empty retained publish at QoS 0, 1 and 2 [MQTT-3.3.1-10]', async () => {
      const baton = await startBaton({ allowAnonymous: true });
      const a = await open(baton, { clientId: 'myclientid' });
      for (const [topic, qos] of [['TopicA/B', 0], ['Topic/C', 1], ['TopicA/C', 2]] as const) {
        await a.client.publishAsync(topic, `qos ${qos}`, { qos, retain: true });
      }
      for (const [topic, qos] of [['TopicA/B', 0], ['Topic/C', 1], ['TopicA/C', 2]] as const) {
        await a.client.publishAsync(topic, '', { qos, retain: true });
      }
      // A retained message stored after the clears, and a live one after subscribing, mark the end.
      await a.client.publishAsync('TopicA/retained-marker', 'marker', { qos: 1, retain: true });

      const sub = await open(baton, { clientId: 'myclientid2' });
      await sub.client.subscribeAsync('+/+', { qos: 2 });
      await arrival(sub, (m) => m.topic === 'TopicA/retained-marker');
      await a.client.publishAsync('TopicA/live-marker', 'live', { qos: 2 });
      await arrival(sub, (m) => m.topic === 'TopicA/live-marker');

      expect(sub.received.filter((m) => m.retain).map((m) => m.topic)).toEqual(['TopicA/retained-marker']);
    });
  });

  describe('will message (Paho will_message_test; not run by the suite by default)', () => {
    it('publishes the will when the connection drops without DISCONNECT [MQTT-3.1.2-8]', async () => {
      const baton = await startBaton({ allowAnonymous: true });
      const b = await open(baton, { clientId: 'myclientid2', clean: false });
      await b.client.subscribeAsync('Topic/C', { qos: 2 });
      const a = await open(baton, {
        clientId: 'myclientid', clean: true, keepalive: 2,
        will: { topic: 'Topic/C', payload: Buffer.from('client not disconnected'), qos: 2, retain: false },
      });

      a.client.stream.destroy();

      const will = await arrival(b, (m) => m.topic === 'Topic/C');
      expect(will.payload).toBe('client not disconnected');
    });
  });

  describe('zero-length client id (Paho test_zero_length_clientid)', () => {
    it('refuses it with clean session 0 (return code 2) and accepts it with clean session 1 [MQTT-3.1.3-7, MQTT-3.1.3-8]', async () => {
      const baton = await startBaton({ allowAnonymous: true });

      expect(await rawConnack(baton.mqttPort, connectPacket({ clientId: '', clean: false }))).toBe(2);
      expect(await rawConnack(baton.mqttPort, connectPacket({ clientId: '', clean: true }))).toBe(0);
    });
  });

  describe('offline message queueing (Paho test_offline_message_queueing)', () => {
    it('keeps the session of a clean-session-0 client and delivers the QoS 1 and 2 messages published while it was away', async () => {
      const baton = await startBaton({ allowAnonymous: true });
      const first = await open(baton, { clientId: 'myclientid', clean: false });
      await first.client.subscribeAsync('+/+', { qos: 2 });
      await first.client.endAsync();

      const b = await open(baton, { clientId: 'myclientid2', clean: true });
      expect(b.connack.sessionPresent).toBe(false);
      await b.client.publishAsync('TopicA/B', 'qos 0', { qos: 0 });
      await b.client.publishAsync('Topic/C', 'qos 1', { qos: 1 });
      await b.client.publishAsync('TopicA/C', 'qos 2', { qos: 2 });

      const back = await open(baton, { clientId: 'myclientid', clean: false });

      expect(back.connack.sessionPresent).toBe(true);
      expect((await arrival(back, (m) => m.topic === 'Topic/C')).payload).toBe('qos 1');
      expect((await arrival(back, (m) => m.topic === 'TopicA/C')).payload).toBe('qos 2');
      // QoS 0 messages may or may not be queued (Mosquitto does not by default).
      expect(back.received.map((m) => m.topic).filter((t) => t !== 'TopicA/B').sort()).toEqual(['Topic/C', 'TopicA/C']);
    });
  });

  describe('overlapping subscriptions (Paho test_overlapping_subscriptions)', () => {
    it('delivers one copy at the highest matching QoS, or one copy per matching subscription [MQTT-3.3.5-1]', async () => {
      const baton = await startBaton({ allowAnonymous: true });
      const a = await open(baton, { clientId: 'myclientid' });
      await a.client.subscribeAsync({ 'TopicA/#': { qos: 2 }, 'TopicA/+': { qos: 1 } });

      await a.client.publishAsync('TopicA/C', 'overlapping topic filters', { qos: 2 });
      await a.client.publishAsync('TopicA/end', 'end', { qos: 2 });
      await arrival(a, (m) => m.topic === 'TopicA/end');

      const copies = a.received.filter((m) => m.topic === 'TopicA/C').map((m) => m.qos).sort();
      expect([[2], [1, 2]]).toContainEqual(copies);
    });
  });

  describe('keepalive (Paho test_keepalive)', () => {
    it('closes a connection that is silent past its keepalive and publishes its will [MQTT-3.1.2-24]', async () => {
      const baton = await startBaton({ allowAnonymous: true });
      const b = await open(baton, { clientId: 'myclientid2', clean: true });
      await b.client.subscribeAsync('/TopicA', { qos: 2 });

      const a = await rawConnected(baton.mqttPort, {
        clientId: 'myclientid', clean: true, keepalive: 1,
        will: { topic: '/TopicA', payload: 'keepalive expiry', qos: 2 },
      });

      await a.closed;
      const will = await arrival(b, (m) => m.topic === '/TopicA');
      expect(will.payload).toBe('keepalive expiry');
    });
  });

  describe('redelivery on reconnect (Paho test_redelivery_on_reconnect)', () => {
    it('resends unacknowledged QoS 1 and 2 messages, same packet ids and DUP set, when the session resumes [MQTT-4.4.0-1, MQTT-3.3.1-1]', async () => {
      const baton = await startBaton({ allowAnonymous: true });
      const silent = await rawConnected(baton.mqttPort, { clientId: 'myclientid2', clean: false, keepalive: 0 });
      silent.send(subscribePacket(1, 'TopicA/#', 2));
      await silent.packet(9); // SUBACK
      const pub = await open(baton, { clientId: 'myclientid' });
      await pub.client.publishAsync('TopicA/B', 'qos 1', { qos: 1 });
      await pub.client.publishAsync('TopicA/C', 'qos 2', { qos: 2 });
      // Both arrive and are never acknowledged (no PUBACK, no PUBREC).
      const first1 = await arrival(silent, (m) => m.topic === 'TopicA/B');
      const first2 = await arrival(silent, (m) => m.topic === 'TopicA/C');
      silent.send(DISCONNECT);
      await silent.closed;

      const back = await open(baton, { clientId: 'myclientid2', clean: false });

      expect(back.connack.sessionPresent).toBe(true);
      const again1 = await arrival(back, (m) => m.topic === 'TopicA/B');
      const again2 = await arrival(back, (m) => m.topic === 'TopicA/C');
      // The same packet identifiers [MQTT-4.4.0-1], with DUP set [MQTT-3.3.1-1].
      expect(again1).toEqual({ topic: 'TopicA/B', payload: 'qos 1', qos: 1, retain: false, dup: true, messageId: first1.messageId });
      expect(again2).toEqual({ topic: 'TopicA/C', payload: 'qos 2', qos: 2, retain: false, dup: true, messageId: first2.messageId });
    });
  });

  describe('subscribe failure (Paho test_subscribe_failure)', () => {
    // The suite subscribes to a filter the server is configured to refuse ("test/nosubscribe");
    // anonymous clients are refused no filter, so a registered device's out-of-scope filter is used.
    it('answers a refused filter with 0x80 in the SUBACK, grants the others, and keeps the connection [MQTT-3.9.3-2]', async () => {
      const baton = await startBaton({ allowAnonymous: true });
      const device = await baton.connectDevice(await baton.createDevice('dev-a'));

      const granted = await subscribeGranted(device, ['test/nosubscribe', 'devices/dev-a/shadow/#'], 2);

      expect(granted).toEqual([0x80, expect.any(Number)]);
      expect(granted[1]).not.toBe(0x80);
      expect(await subscribeGranted(device, ['devices/dev-a/errors'], 1)).toEqual([1]);
      expect(device.connected).toBe(true);
    });
  });

  describe('$ topics (Paho test_dollar_topics)', () => {
    it('acknowledges a QoS 1 publish to $TopicA/B and does not deliver it to # or +/+ subscriptions [MQTT-4.7.2-1]', async () => {
      const baton = await startBaton({ allowAnonymous: true });
      const b = await open(baton, { clientId: 'myclientid2', clean: true, keepalive: 0 });
      await b.client.subscribeAsync({ '#': { qos: 2 }, '+/+': { qos: 2 } });

      expect(await publishOutcome(b.client, '$TopicA/B', '', 1)).toBe('acknowledged');

      await b.client.publishAsync('TopicA/B', 'after', { qos: 1 });
      await arrival(b, (m) => m.topic === 'TopicA/B');
      expect(b.received.filter((m) => m.topic.startsWith('$'))).toEqual([]);
    });

    it('still refuses an anonymous publish to $SYS/... (Baton rule, not in the suite)', async () => {
      const baton = await startBaton({ allowAnonymous: true });
      const a = await open(baton, { clientId: 'myclientid' });

      expect(await publishOutcome(a.client, '$SYS/broker/fake', 'x', 1)).toBe('connection closed');
    });
  });

  describe('unsubscribe (Paho test_unsubscribe)', () => {
    it('stops delivery on the unsubscribed filter and keeps the others', async () => {
      const baton = await startBaton({ allowAnonymous: true });
      const b = await open(baton, { clientId: 'myclientid2', clean: true });
      await b.client.subscribeAsync('TopicA', { qos: 2 });
      await b.client.subscribeAsync('TopicA/B', { qos: 2 });
      await b.client.subscribeAsync('Topic/C', { qos: 2 });
      await b.client.unsubscribeAsync('TopicA');
      const a = await open(baton, { clientId: 'myclientid', clean: true });

      await a.client.publishAsync('TopicA', '', { qos: 1 });
      await a.client.publishAsync('TopicA/B', '', { qos: 1 });
      await a.client.publishAsync('Topic/C', '', { qos: 1 });

      await arrival(b, (m) => m.topic === 'TopicA/B');
      await arrival(b, (m) => m.topic === 'Topic/C');
      expect(b.received.map((m) => m.topic)).toEqual(['TopicA/B', 'Topic/C']);
    });
  });
});
