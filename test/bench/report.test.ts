import { describe, expect, it } from 'vitest';
import { evaluateAll, evaluateTarget, formatNumber, renderMarkdown } from '../../bench/report.js';
import type { BenchRow } from '../../bench/types.js';

const throughputRow: BenchRow = {
  name: '64 B frames',
  reference: 'raw',
  measurements: [
    { subject: 'raw', value: 1000, unit: 'msgs/s' },
    { subject: 'switchboard', value: 950, unit: 'msgs/s' },
    { subject: 'peer-a', value: 300, unit: 'msgs/s' },
    { subject: 'peer-b', value: 500, unit: 'msgs/s' },
  ],
};

describe('bench report', () => {
  it('checks a ratio target against the reference', () => {
    const verdict = evaluateTarget('throughput', throughputRow, {
      subject: 'switchboard',
      against: 'raw',
      atLeast: 0.9,
    });
    expect(verdict.ratio).toBeCloseTo(0.95);
    expect(verdict.holds).toBe(true);
    const missed = evaluateTarget('throughput', throughputRow, {
      subject: 'switchboard',
      against: 'raw',
      atLeast: 1,
    });
    expect(missed.holds).toBe(false);
    expect(missed.text).toContain('MISSED');
  });

  it('compares against the best of a list (highest, or lowest when lower is better)', () => {
    const verdict = evaluateTarget('throughput', throughputRow, {
      subject: 'switchboard',
      against: ['peer-a', 'peer-b', 'not-measured'],
      atLeast: 2,
    });
    expect(verdict.againstSubject).toBe('peer-b');
    expect(verdict.ratio).toBeCloseTo(1.9);
    expect(verdict.holds).toBe(false);
    const latency: BenchRow = {
      name: 'rtt',
      reference: 'raw',
      lowerIsBetter: true,
      measurements: [
        { subject: 'raw', value: 10, unit: 'µs' },
        { subject: 'a', value: 20, unit: 'µs' },
        { subject: 'b', value: 15, unit: 'µs' },
      ],
    };
    expect(
      evaluateTarget('pingpong', latency, { subject: 'raw', against: ['a', 'b'], atMost: 1 })
        .againstSubject,
    ).toBe('b');
  });

  it('checks a difference target (atMostAbove)', () => {
    const memory: BenchRow = {
      name: 'idle',
      reference: 'raw',
      lowerIsBetter: true,
      measurements: [
        { subject: 'raw', value: 1000, unit: 'bytes/conn' },
        { subject: 'server', value: 1900, unit: 'bytes/conn' },
      ],
    };
    expect(
      evaluateTarget('idle', memory, { subject: 'server', against: 'raw', atMostAbove: 1024 })
        .holds,
    ).toBe(true);
    expect(
      evaluateTarget('idle', memory, { subject: 'server', against: 'raw', atMostAbove: 512 }).holds,
    ).toBe(false);
  });

  it('a target whose subject was not measured does not hold', () => {
    const verdict = evaluateTarget('throughput', throughputRow, {
      subject: 'missing',
      against: 'raw',
      atLeast: 0.5,
    });
    expect(verdict.ratio).toBeUndefined();
    expect(verdict.holds).toBe(false);
    expect(verdict.text).toContain('not measured');
  });

  it('renders tables, ratios, notes and the targets summary', () => {
    const rows: BenchRow[] = [
      {
        ...throughputRow,
        note: 'a | note',
        target: { subject: 'switchboard', against: 'raw', atLeast: 0.9 },
      },
    ];
    const scenarios = [{ scenario: 'throughput', file: 'bench/throughput.ts', rows, seconds: 1.5 }];
    const markdown = renderMarkdown({
      date: '2026-01-01T00:00:00Z',
      machine: {
        cores: 2,
        cpuModel: 'cpu',
        node: 'v20',
        platform: 'linux',
        memoryGiB: 4,
        loadAverage: { start: 0.5, end: 0.7 },
      },
      quick: true,
      budgetMs: 400,
      scenarios,
      verdicts: evaluateAll(scenarios),
    });
    expect(markdown).toContain('| switchboard | 950 | msgs/s | 0.95× |');
    expect(markdown).toContain('> Note: a \\| note');
    expect(markdown).toContain(
      '| throughput | 64 B frames | switchboard ≥ 0.9× raw | 0.95× holds |',
    );
  });

  it('formats figures readably', () => {
    expect(formatNumber(12_345_678.9)).toBe('12,345,679');
    expect(formatNumber(123.4)).toBe('123');
    expect(formatNumber(12.34)).toBe('12.3');
    expect(formatNumber(1.234)).toBe('1.23');
    expect(formatNumber(Number.NaN)).toBe('n/a');
  });
});
