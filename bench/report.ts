/** The bench's printed report: a Markdown table (pasteable into docs/BENCHMARKS.md), ratios and targets. */
import { cpus, release, totalmem } from 'node:os';
import type { BenchOptions } from './options.js';
import type { FanInResult, MemoryResult } from './phases.js';
import { fmt, ratio } from './stats.js';

export interface BrokerResult {
  name: string;
  fanIn?: FanInResult;
  memory?: MemoryResult;
}

/** Targets from the foundation issue. */
export const targets = { qos1VsMosquitto: 0.7, kibPerIdleDevice: 16 } as const;

export function machineLine(mosquittoVersion: string): string {
  const cpu = cpus();
  return `${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}, ` +
    `Node ${process.version}, Mosquitto ${mosquittoVersion}`;
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function figures(r: BrokerResult): string[] {
  const f = r.fanIn;
  return [
    r.name,
    fmt(f?.qos0.msgPerS ?? NaN), fmt(f?.qos0.cpuUsPerMsg ?? NaN, 1),
    fmt(f?.qos1.msgPerS ?? NaN), fmt(f?.qos1.cpuUsPerMsg ?? NaN, 1), fmt(f?.qos1.p50Ms ?? NaN, 1), fmt(f?.qos1.p99Ms ?? NaN, 1),
    fmt(r.memory?.kibPerDevice ?? NaN, 1),
  ];
}

function ratios(a: BrokerResult, b: BrokerResult): string[] {
  const x = a.fanIn;
  const y = b.fanIn;
  const r = (p: number | undefined, q: number | undefined) => ratio(p ?? NaN, q ?? NaN);
  return [
    `**${a.name} / ${b.name}**`,
    r(x?.qos0.msgPerS, y?.qos0.msgPerS), r(x?.qos0.cpuUsPerMsg, y?.qos0.cpuUsPerMsg),
    r(x?.qos1.msgPerS, y?.qos1.msgPerS), r(x?.qos1.cpuUsPerMsg, y?.qos1.cpuUsPerMsg), r(x?.qos1.p50Ms, y?.qos1.p50Ms), r(x?.qos1.p99Ms, y?.qos1.p99Ms),
    r(a.memory?.kibPerDevice, b.memory?.kibPerDevice),
  ];
}

export function renderReport(results: BrokerResult[], options: BenchOptions, context: { machine: string; dataDirNote: string }): string {
  const baton = results.find((r) => r.name === 'Baton')!;
  const mosquitto = results.find((r) => r.name === 'Mosquitto')!;
  const idle = baton.memory?.devices ?? mosquitto.memory?.devices ?? 0;
  const out: string[] = [
    `Machine: ${context.machine}`,
    `Load: ${options.devices} devices × ${options.durationS} s per window, QoS 1 in-flight ${options.inflight}/device; ${idle} idle devices for memory.`,
    `Load client and broker share the ${cpus().length} cores: read the "cores" columns before reading a ratio.`,
    `${context.dataDirNote}`,
    '',
    row(['broker', 'QoS 0 msg/s', 'QoS 0 CPU µs/msg', 'QoS 1 msg/s', 'QoS 1 CPU µs/msg', 'QoS 1 p50 ms', 'QoS 1 p99 ms', `RSS KiB/idle device (${idle})`]),
    row(Array(8).fill('---')),
    ...results.map((r) => row(figures(r))),
    row(ratios(baton, mosquitto)),
    '',
    ...coresTable(results),
    '',
    ...memoryTable(results),
    '',
    ...storeTable(results),
    '',
    ...contentionLines(results),
    ...targetLines(baton, mosquitto, worstContention(results) > contentionLimit),
  ];
  return out.join('\n');
}

function coresTable(results: BrokerResult[]): string[] {
  const lines = [row(['window', 'broker cores', 'load-client cores', 'other processes (cores)']), row(Array(4).fill('---'))];
  for (const r of results) {
    for (const [qos, f] of [['QoS 0', r.fanIn?.qos0], ['QoS 1', r.fanIn?.qos1]] as const) {
      if (f) lines.push(row([`${r.name} ${qos}`, fmt(f.brokerCores, 2), fmt(f.clientCores, 2), fmt(f.otherCores, 2)]));
    }
  }
  return lines;
}

function memoryTable(results: BrokerResult[]): string[] {
  const lines = [
    row(['broker', 'RSS before → after (MiB)', 'RSS KiB/device', 'V8 live heap KiB/device', 'V8 heap held KiB/device']),
    row(Array(5).fill('---')),
  ];
  for (const r of results) {
    const m = r.memory;
    if (!m) continue;
    lines.push(row([
      r.name, `${fmt(m.rssBeforeKiB / 1024, 1)} → ${fmt(m.rssAfterKiB / 1024, 1)}`, fmt(m.kibPerDevice, 1),
      fmt(m.heapUsedKiBPerDevice ?? NaN, 1), fmt(m.heapCommittedKiBPerDevice ?? NaN, 1),
    ]));
  }
  return lines;
}

function storeTable(results: BrokerResult[]): string[] {
  const lines = [row(['group commits', 'commits/s', 'writes per commit', 'ms per commit (fsync incl.)', 'share of wall time in commits']), row(Array(5).fill('---'))];
  for (const r of results) {
    for (const [qos, f] of [['QoS 0', r.fanIn?.qos0], ['QoS 1', r.fanIn?.qos1]] as const) {
      const st = f?.store;
      if (st) lines.push(row([`${r.name} ${qos}`, fmt(st.commitsPerS), fmt(st.meanBatch, 1), fmt(st.meanCommitMs, 2), `${fmt(st.blockedShare * 100)} %`]));
    }
  }
  return lines;
}

/** Other work on a 2-core machine takes CPU from broker and client alike: flag a skewed run. */
const contentionLimit = 0.25;
const worstContention = (results: BrokerResult[]) =>
  Math.max(0, ...results.flatMap((r) => [r.fanIn?.qos0.otherCores ?? 0, r.fanIn?.qos1.otherCores ?? 0]));

function contentionLines(results: BrokerResult[]): string[] {
  const worst = worstContention(results);
  if (worst <= contentionLimit) return [];
  return [
    `warning: other processes used up to ${worst.toFixed(2)} cores during the windows: the msg/s figures are low and the`,
    '         ratios unreliable; rerun on an idle machine (CPU µs/msg is the steadier figure).',
    '',
  ];
}

function targetLines(baton: BrokerResult, mosquitto: BrokerResult, contended: boolean): string[] {
  const lines = ['Targets (foundation issue):'];
  const q = (baton.fanIn?.qos1.msgPerS ?? NaN) / (mosquitto.fanIn?.qos1.msgPerS ?? NaN);
  const verdict = (ok: boolean, measured: number) => (Number.isFinite(measured) ? (ok ? 'MET' : 'MISSED') : 'not measured');
  const caveat = contended ? ' (unreliable: other processes were busy)' : '';
  lines.push(`  Baton QoS 1 fan-in ≥ ${targets.qos1VsMosquitto}× Mosquitto: ${Number.isFinite(q) ? q.toFixed(2) : 'n/a'}× → ${verdict(q >= targets.qos1VsMosquitto, q)}${caveat}`);
  const kib = baton.memory?.kibPerDevice ?? NaN;
  lines.push(`  Baton RSS ≤ ${targets.kibPerIdleDevice} KiB per idle device: ${fmt(kib, 1)} KiB → ${verdict(kib <= targets.kibPerIdleDevice, kib)}`);
  return lines;
}
