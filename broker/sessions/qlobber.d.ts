/** The parts of qlobber 8 (no bundled types) that the session store uses. */
declare module 'qlobber' {
  interface QlobberOptions {
    separator?: string;
    wildcard_one?: string;
    wildcard_some?: string;
    match_empty_levels?: boolean;
  }
  export class QlobberTrue {
    constructor(options?: QlobberOptions);
    add(topic: string): this;
    test(topic: string): boolean;
  }
}

declare module 'qlobber/aedes/qlobber-sub.js' {
  import type { QlobberOptions } from 'qlobber';
  interface SubEntry {
    clientId: string;
    topic: string;
    qos: number;
    rh?: number | undefined;
    rap?: boolean | undefined;
    nl?: boolean | undefined;
  }
  export default class QlobberSub {
    constructor(options?: QlobberOptions);
    subscriptionsCount: number;
    add(topic: string, value: SubEntry): this;
    remove(topic: string, value: { clientId: string; topic: string }): this;
    match(topic: string): SubEntry[];
  }
}
