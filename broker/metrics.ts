import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric Baton exports, on a registry of its own (tests build many services in one process). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'baton_process_' });
  const registers = [registry];
  return {
    registry,
    connectedDevices: new Gauge({ name: 'baton_connected_devices', help: 'Devices connected now.', registers }),
    connects: new Counter({ name: 'baton_connects_total', help: 'Accepted MQTT connections.', labelNames: ['transport', 'kind'], registers }),
    authFailures: new Counter({ name: 'baton_auth_failures_total', help: 'Refused MQTT connections.', labelNames: ['reason'], registers }),
    messagesIn: new Counter({ name: 'baton_messages_in_total', help: 'PUBLISH packets received, by topic kind.', labelNames: ['kind'], registers }),
    bytesIn: new Counter({ name: 'baton_bytes_in_total', help: 'Payload bytes received, by topic kind.', labelNames: ['kind'], registers }),
    messagesOut: new Counter({ name: 'baton_messages_out_total', help: 'PUBLISH packets delivered to clients, by topic root.', labelNames: ['kind'], registers }),
    bytesOut: new Counter({ name: 'baton_bytes_out_total', help: 'Payload bytes delivered to clients, by topic root.', labelNames: ['kind'], registers }),
    aclDenials: new Counter({ name: 'baton_acl_denials_total', help: 'Publishes and subscriptions refused by the ACL.', labelNames: ['action'], registers }),
    droppedPayloads: new Counter({ name: 'baton_dropped_payloads_total', help: 'Device payloads dropped, by error code.', labelNames: ['reason'], registers }),
    persistentSessions: new Gauge({ name: 'baton_persistent_sessions', help: 'Persistent MQTT sessions (clean session 0) held, connected or not.', registers }),
    sessionQueuedMessages: new Gauge({ name: 'baton_session_queued_messages', help: 'Messages queued in persistent sessions: waiting, or sent and not yet acknowledged.', registers }),
    sessionDroppedMessages: new Counter({
      name: 'baton_session_dropped_messages_total', help: 'Messages dropped from full persistent-session queues (the oldest goes).', registers,
    }),
    subscriptionLimitRefusals: new Counter({
      name: 'baton_subscription_limit_refusals_total', help: 'Topic filters refused because their client holds BATON_MQTT_MAX_SUBSCRIPTIONS already.', registers,
    }),
    oversizePackets: new Counter({
      name: 'baton_oversize_packets_total', help: 'Connections closed for announcing a packet larger than BATON_MQTT_MAX_PACKET_BYTES.', registers,
    }),
    connectsThrottled: new Counter({
      name: 'baton_connects_throttled_total', labelNames: ['reason'], registers,
      help: 'Connections turned away by the storm limits: `rate` (CONNACK 3 past BATON_MQTT_MAX_CONNECTS_PER_SEC), `pending-per-address` (socket closed past BATON_MQTT_MAX_PENDING_CONNECTS_PER_ADDRESS).',
    }),
    brokerErrors: new Counter({ name: 'baton_mqtt_broker_errors_total', help: "Errors aedes reported on its 'error' event (logged; the broker keeps serving).", registers }),
    unhandledRejections: new Counter({
      name: 'baton_unhandled_rejections_total', help: 'Promise rejections nothing handled (logged; the process keeps serving). Counted by the process entry point only.', registers,
    }),
    storeBatchSize: new Histogram({
      name: 'baton_store_batch_size', help: 'Writes per group commit.', buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], registers,
    }),
    storeCommitSeconds: new Histogram({
      name: 'baton_store_commit_seconds', help: 'Time to commit one batch, fsync included.',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1], registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
