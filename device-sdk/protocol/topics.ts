/**
 * Every MQTT topic of the Baton protocol is built and parsed here, and nowhere else.
 *
 * Devices live under `devices/{deviceId}/…`; integrations read `fleet/events/…`; factory-fresh
 * devices provision under `provisioning/{serial}/…`. The table below states, for every topic
 * kind, who may publish it: the device (`up`) or the broker (`down`). The ACL is derived from it,
 * so a topic added here is automatically denied in the wrong direction.
 */

/** Device ids: 1–128 characters of `A-Z a-z 0-9 _ - . :`; never `/ + #`, so they are one topic level. */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
/** Named shadows: 1–64 characters of `A-Z a-z 0-9 _ - :`. */
export const SHADOW_NAME_PATTERN = /^[A-Za-z0-9_:-]{1,64}$/;
/** Telemetry streams, firmware ids, job ids and hardware serials: one safe topic level. */
export const TOPIC_SEGMENT_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

export const isDeviceId = (s: string): boolean => DEVICE_ID_PATTERN.test(s);

export type Direction = 'up' | 'down';

/** A topic shape, as levels: literals, or `{name}` placeholders that capture one level. */
interface TopicShape {
  readonly kind: string;
  readonly direction: Direction;
  readonly levels: readonly string[];
}

const shadowPrefixes = [
  ['shadow'],
  ['shadow', 'name', '{shadowName}'],
] as const;

const shadowOps: ReadonlyArray<[string[], Direction]> = [
  [['get'], 'up'],
  [['get', 'accepted'], 'down'],
  [['get', 'rejected'], 'down'],
  [['update'], 'up'],
  [['update', 'accepted'], 'down'],
  [['update', 'rejected'], 'down'],
  [['update', 'delta'], 'down'],
  [['update', 'documents'], 'down'],
  [['delete'], 'up'],
  [['delete', 'accepted'], 'down'],
  [['delete', 'rejected'], 'down'],
];

const device = (kind: string, direction: Direction, ...rest: string[]): TopicShape => ({
  kind,
  direction,
  levels: ['devices', '{deviceId}', ...rest],
});

const jobReplies = (kind: string, ...rest: string[]): TopicShape[] => [
  device(kind, 'up', ...rest),
  device(`${kind}/accepted`, 'down', ...rest, 'accepted'),
  device(`${kind}/rejected`, 'down', ...rest, 'rejected'),
];

/** The whole device-side topic table. Order matters only for readability. */
export const topicShapes: readonly TopicShape[] = [
  device('telemetry', 'up', 'telemetry'),
  device('telemetry', 'up', 'telemetry', '{stream}'),
  device('health', 'up', 'health'),
  device('errors', 'down', 'errors'),
  ...shadowPrefixes.flatMap((prefix) =>
    shadowOps.map(([op, direction]) => device(`shadow/${op.join('/')}`, direction, ...prefix, ...op)),
  ),
  device('stream/get', 'up', 'streams', '{firmwareId}', 'get'),
  device('stream/data', 'down', 'streams', '{firmwareId}', 'data', '{blockIndex}'),
  device('stream/rejected', 'down', 'streams', '{firmwareId}', 'rejected'),
  device('stream/chunk-table/get', 'up', 'streams', '{firmwareId}', 'chunk-table', 'get'),
  device('stream/chunk-table', 'down', 'streams', '{firmwareId}', 'chunk-table'),
  ...jobReplies('certificates/create-from-csr', 'certificates', 'create-from-csr'),
  device('jobs/notify-next', 'down', 'jobs', 'notify-next'),
  ...jobReplies('jobs/get', 'jobs', 'get'),
  ...jobReplies('jobs/start-next', 'jobs', 'start-next'),
  ...jobReplies('jobs/reconcile', 'jobs', 'reconcile'),
  ...jobReplies('jobs/job/get', 'jobs', '{jobId}', 'get'),
  ...jobReplies('jobs/job/update', 'jobs', '{jobId}', 'update'),
  { kind: 'provisioning/register', direction: 'up', levels: ['provisioning', '{serial}', 'register'] },
  { kind: 'provisioning/register/accepted', direction: 'down', levels: ['provisioning', '{serial}', 'register', 'accepted'] },
  { kind: 'provisioning/register/rejected', direction: 'down', levels: ['provisioning', '{serial}', 'register', 'rejected'] },
];

export interface ParsedTopic {
  kind: string;
  direction: Direction;
  /** Captured placeholders, e.g. `{ deviceId, shadowName }`. */
  params: Record<string, string>;
}

const placeholderValid: Record<string, (s: string) => boolean> = {
  deviceId: isDeviceId,
  shadowName: (s) => SHADOW_NAME_PATTERN.test(s),
  blockIndex: (s) => /^(0|[1-9][0-9]{0,9})$/.test(s),
};

function matchShape(shape: TopicShape, levels: string[]): ParsedTopic | undefined {
  if (shape.levels.length !== levels.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < levels.length; i++) {
    const want = shape.levels[i]!;
    const got = levels[i]!;
    if (want.startsWith('{')) {
      const name = want.slice(1, -1);
      const valid = placeholderValid[name] ?? ((s: string) => TOPIC_SEGMENT_PATTERN.test(s));
      if (!valid(got)) return undefined;
      params[name] = got;
    } else if (want !== got) {
      return undefined;
    }
  }
  return { kind: shape.kind, direction: shape.direction, params };
}

/** Parses a concrete topic of the device protocol; `undefined` for anything the protocol does not define. */
export function parseTopic(topic: string): ParsedTopic | undefined {
  const levels = topic.split('/');
  for (const shape of topicShapes) {
    const parsed = matchShape(shape, levels);
    if (parsed) return parsed;
  }
  return undefined;
}

/** The topic filter levels of every shape, with placeholders as `+`, for the given device. */
export function shapesAsFilters(direction: Direction): string[][] {
  return topicShapes
    .filter((s) => s.direction === direction)
    .map((s) => s.levels.map((l) => (l.startsWith('{') ? '+' : l)));
}

export type ReplyOutcome = 'accepted' | 'rejected';

/**
 * The filter a device subscribes to for the `/accepted` (or `/rejected`) replies to `requestTopic`
 * and to every other request of the same shape: the operation and every placeholder but the
 * device id are `+`, e.g. `devices/d1/jobs/+/+/accepted` for `devices/d1/jobs/j7/update` (and
 * every job's `get`), `devices/d1/shadow/name/+/+/accepted` for any named shadow's `get`,
 * `update` and `delete`. So a device holds a fixed handful of reply filters however many jobs
 * and shadows it uses, far below the broker's per-client filter limit; replies are told apart by
 * topic and `clientToken`. Such a filter ends in `accepted` or `rejected`, which only reply
 * topics do: it never matches a device's own requests, nor pushed topics such as `update/delta`.
 *
 * Undefined unless `requestTopic` is a device request of the protocol (an `up` topic under
 * `devices/` whose `/accepted` and `/rejected` are `down` topics).
 */
export function replyFilter(requestTopic: string, outcome: ReplyOutcome): string | undefined {
  const levels = requestTopic.split('/');
  const shape = topicShapes.find((s) => matchShape(s, levels));
  if (shape?.direction !== 'up' || shape.levels[0] !== 'devices') return undefined;
  if (parseTopic(`${requestTopic}/${outcome}`)?.direction !== 'down') return undefined;
  const last = levels.length - 1;
  const wild = (want: string, i: number) => i === last || (want.startsWith('{') && want !== '{deviceId}');
  const filter = shape.levels.map((want, i) => (wild(want, i) ? '+' : levels[i]!));
  return [...filter, outcome].join('/');
}

// --- builders: the only place topic strings are assembled ------------------------------------

/** `shadow` for the classic shadow, `shadow/name/{name}` for a named one. */
export const shadowSegment = (shadowName?: string): string =>
  shadowName === undefined ? 'shadow' : `shadow/name/${shadowName}`;

export const topics = {
  telemetry: (deviceId: string, stream?: string) =>
    stream === undefined ? `devices/${deviceId}/telemetry` : `devices/${deviceId}/telemetry/${stream}`,
  health: (deviceId: string) => `devices/${deviceId}/health`,
  errors: (deviceId: string) => `devices/${deviceId}/errors`,
  shadow: (deviceId: string, shadowName: string | undefined, op: string) =>
    `devices/${deviceId}/${shadowSegment(shadowName)}/${op}`,
  /**
   * `op` of the classic shadow, or of every named shadow (`…/shadow/name/+/{op}`): one filter
   * serves all of a device's named shadows, so their number does not add subscriptions.
   */
  shadowFilter: (deviceId: string, named: boolean, op: string) =>
    `devices/${deviceId}/${named ? 'shadow/name/+' : 'shadow'}/${op}`,
  /** What a device that does not use the SDK may subscribe to before its first shadow request. */
  shadowReplies: (deviceId: string) => `devices/${deviceId}/shadow/#`,
  streamGet: (deviceId: string, firmwareId: string) => `devices/${deviceId}/streams/${firmwareId}/get`,
  streamData: (deviceId: string, firmwareId: string, blockIndex: number) =>
    `devices/${deviceId}/streams/${firmwareId}/data/${blockIndex}`,
  streamRejected: (deviceId: string, firmwareId: string) => `devices/${deviceId}/streams/${firmwareId}/rejected`,
  chunkTableGet: (deviceId: string, firmwareId: string) =>
    `devices/${deviceId}/streams/${firmwareId}/chunk-table/get`,
  chunkTable: (deviceId: string, firmwareId: string) => `devices/${deviceId}/streams/${firmwareId}/chunk-table`,
  streams: (deviceId: string, firmwareId: string) => `devices/${deviceId}/streams/${firmwareId}/#`,
  certificates: (deviceId: string, op: string) => `devices/${deviceId}/certificates/${op}`,
  jobs: (deviceId: string, op: string) => `devices/${deviceId}/jobs/${op}`,
  provisioning: (serial: string, op: string) => `provisioning/${serial}/${op}`,

  // fleet events, for integrations (read-only)
  presenceEvent: (deviceId: string) => `fleet/events/presence/${deviceId}`,
  shadowEvent: (deviceId: string) => `fleet/events/shadow/${deviceId}`,
  jobEvent: (jobId: string, deviceId: string) => `fleet/events/jobs/${jobId}/${deviceId}`,
  rolloutEvent: (jobId: string) => `fleet/events/rollouts/${jobId}`,
} as const;

/** The subscriptions an integration may hold (read-only). */
export const integrationFilters: readonly string[] = [
  'devices/+/telemetry/#',
  'devices/+/health',
  'fleet/events/#',
];

/** Namespaces that only the protocol may use; anonymous clients (if allowed) never see them. */
export const reservedRoots: readonly string[] = ['devices', 'fleet', 'provisioning'];
