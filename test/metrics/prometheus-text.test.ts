import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.js';

// The parser the /metrics tests rely on, checked against exposition text written by hand.
describe('the Prometheus text parser of the tests', () => {
  const text = [
    '# HELP http_requests_total Requests.',
    '# TYPE http_requests_total counter',
    'http_requests_total{method="GET",route="/v2/<name>/manifests/<reference>",status="200"} 3',
    'http_requests_total{method="GET",path="a\\"b\\\\c\\nd"} 1 1700000000000',
    '# TYPE latency_seconds histogram',
    'latency_seconds_bucket{le="0.1"} 2',
    'latency_seconds_bucket{le="+Inf"} 5',
    'latency_seconds_sum 1.5',
    'latency_seconds_count 5',
    'up NaN',
    '',
  ].join('\n');

  it('reads families, types, labels with escapes, histogram series and special values', () => {
    const families = parsePrometheusText(text);
    assert.equal(families.get('http_requests_total')?.type, 'counter');
    assert.equal(families.get('http_requests_total')?.help, 'Requests.');
    assert.equal(sampleValue(families, 'http_requests_total', { route: '/v2/<name>/manifests/<reference>' }), 3);
    assert.equal(sampleValue(families, 'http_requests_total', { path: 'a"b\\c\nd' }), 1);
    assert.equal(families.get('latency_seconds')?.samples.length, 4, 'the buckets, sum and count are the histogram\'s');
    assert.equal(sampleValue(families, 'latency_seconds_bucket', { le: '+Inf' }), 5);
    assert.ok(Number.isNaN(sampleValue(families, 'up')!));
    assert.equal(sampleValue(families, 'absent'), undefined);
  });

  it('refuses malformed lines, naming them', () => {
    assert.throws(() => parsePrometheusText('metric{label="x} 1'), /unterminated label value/);
    assert.throws(() => parsePrometheusText('metric not-a-number'), /not a sample value/);
    assert.throws(() => parsePrometheusText('9metric 1'), /not a sample line/);
  });
});
