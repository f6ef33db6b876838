/**
 * MQTT fuzz campaign (issue 11). `npm test` sends a few hundred packets; `npm run fuzz` ≥ 10,000.
 * Replay a run with the FUZZ_SEED it logs (and FUZZ_PATH for one batch); see test/fuzz/README.md.
 */
import { describe, expect, it } from 'vitest';
import { runMqttCampaign } from './mqtt-campaign.js';
import { campaignTimeoutMs, fuzzSettings, replayHint } from './settings.js';

const settings = fuzzSettings();

describe('MQTT fuzzing', () => {
  it(
    `survives ${settings.mqttPackets} generated and mutated packets, stays healthy and keeps every acknowledged write`,
    async () => {
      const { stats, findings, fatal, reportFile } = await runMqttCampaign(settings);
      const summary = [
        ...(fatal ? [`FATAL: ${fatal}`] : []),
        ...findings.map((f) => `${f.kind} (batch ${f.path}; replay: ${replayHint('mqtt', settings, f.path)}): ${f.detail}${f.packets ? `\n  ${f.packets.slice(0, 12).join('\n  ')}` : ''}`),
      ].join('\n\n');
      expect(summary, `seed ${settings.seed}; report ${reportFile}`).toBe('');
      expect(stats.packets).toBeGreaterThanOrEqual(settings.path === undefined ? settings.mqttPackets : 1);
      expect(stats.goodDevice.acked).toBeGreaterThan(0);
    },
    campaignTimeoutMs(settings.mqttPackets),
  );
});
