import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHelp, escapeLabelValue, formatExposition, formatValue, type MetricFamily } from '../../../src/server/http/exposition.ts';

describe('Prometheus exposition: escaping', () => {
  it('escapes backslash, double quote and line feed in label values, and nothing else', () => {
    assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
    assert.equal(escapeLabelValue('udp://[::1]:53 é\t'), 'udp://[::1]:53 é\t');
  });

  it('escapes backslash and line feed in HELP text but leaves double quotes', () => {
    assert.equal(escapeHelp('say "hi"\\\nnext'), 'say "hi"\\\\\\nnext');
  });

  it('writes a label value that needs escaping so that it parses back to itself', () => {
    const out = formatExposition([{ name: 'x_total', help: 'h', type: 'counter', samples: [{ labels: { upstream: 'a"b\\c\nd' }, value: 1 }] }]);
    assert.match(out, /^x_total\{upstream="a\\"b\\\\c\\nd"\} 1$/m);
    assert.equal(out.split('\n').length, 4, 'the line feed in the value did not break the line');
  });

  it('spells special values the way Prometheus reads them', () => {
    assert.equal(formatValue(Infinity), '+Inf');
    assert.equal(formatValue(-Infinity), '-Inf');
    assert.equal(formatValue(NaN), 'NaN');
    assert.equal(formatValue(0), '0');
    assert.equal(formatValue(0.00025), '0.00025');
    assert.equal(formatValue(1795333149.83), '1795333149.83');
  });
});

describe('Prometheus exposition: families', () => {
  it('writes HELP and TYPE before the samples, labels in order, and ends with a line feed', () => {
    const out = formatExposition([
      {
        name: 'holdfast_queries_total',
        help: 'Queries.',
        type: 'counter',
        samples: [
          { labels: { transport: 'udp' }, value: 3 },
          { labels: { transport: 'tcp' }, value: 0 },
        ],
      },
      { name: 'holdfast_cache_entries', help: 'Entries.', type: 'gauge', samples: [{ labels: {}, value: 7 }] },
    ]);
    assert.equal(
      out,
      [
        '# HELP holdfast_queries_total Queries.',
        '# TYPE holdfast_queries_total counter',
        'holdfast_queries_total{transport="udp"} 3',
        'holdfast_queries_total{transport="tcp"} 0',
        '# HELP holdfast_cache_entries Entries.',
        '# TYPE holdfast_cache_entries gauge',
        'holdfast_cache_entries 7',
        '',
      ].join('\n'),
    );
  });

  it('writes a histogram as cumulative buckets ending in +Inf, then _sum and _count', () => {
    const out = formatExposition([
      {
        name: 'd_seconds',
        help: 'D.',
        type: 'histogram',
        samples: [{ labels: { source: 'cache-fresh' }, bounds: [0.001, 0.01], counts: [2, 3, 1], sum: 0.5 }],
      },
    ]);
    assert.equal(
      out,
      [
        '# HELP d_seconds D.',
        '# TYPE d_seconds histogram',
        'd_seconds_bucket{source="cache-fresh",le="0.001"} 2',
        'd_seconds_bucket{source="cache-fresh",le="0.01"} 5',
        'd_seconds_bucket{source="cache-fresh",le="+Inf"} 6',
        'd_seconds_sum{source="cache-fresh"} 0.5',
        'd_seconds_count{source="cache-fresh"} 6',
        '',
      ].join('\n'),
    );
  });

  it('writes a histogram without labels with le as its only label', () => {
    const out = formatExposition([{ name: 'd_seconds', help: 'D.', type: 'histogram', samples: [{ labels: {}, bounds: [1], counts: [0, 0], sum: 0 }] }]);
    assert.match(out, /^d_seconds_bucket\{le="1"\} 0$/m);
    assert.match(out, /^d_seconds_bucket\{le="\+Inf"\} 0$/m);
    assert.match(out, /^d_seconds_count 0$/m);
  });

  it('refuses what would make the exposition invalid: bad names, a family twice, le on a histogram, counts not matching bounds', () => {
    const bad: MetricFamily[][] = [
      [{ name: 'holdfast-queries', help: '', type: 'gauge', samples: [] }],
      [{ name: 'g', help: '', type: 'gauge', samples: [{ labels: { 'bad-label': 'x' }, value: 1 } ] }],
      [{ name: 'g', help: '', type: 'gauge', samples: [{ labels: { __reserved: 'x' }, value: 1 }] }],
      [
        { name: 'g', help: '', type: 'gauge', samples: [] },
        { name: 'g', help: '', type: 'gauge', samples: [] },
      ],
      [{ name: 'h', help: '', type: 'histogram', samples: [{ labels: { le: '1' }, bounds: [1], counts: [0, 0], sum: 0 }] }],
      [{ name: 'h', help: '', type: 'histogram', samples: [{ labels: {}, bounds: [1, 2], counts: [0, 0], sum: 0 }] }],
    ];
    for (const families of bad) assert.throws(() => formatExposition(families), /^Error: metrics: /, JSON.stringify(families));
  });
});
