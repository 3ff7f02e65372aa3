import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exportedSeries } from './prometheus.mjs';
import { dashboardExpressions, metricNames, rulesFile, selectors, withVariablesFilled } from './promql.mjs';

describe('metricNames', () => {
  it('reads the metric under functions, aggregations and their label lists', () => {
    const expr = 'histogram_quantile(0.99, sum by (le, model) (rate(gateway_request_duration_seconds_bucket{model=~"$model"}[$__rate_interval])))';
    assert.deepEqual(metricNames(expr), ['gateway_request_duration_seconds_bucket']);
  });

  it('reads both sides of a binary operation, and skips keywords, numbers and matched label values', () => {
    const expr =
      'sum without (status) (rate(a_total{status=~"5..", x="rate(b)"}[5m] offset 1h)) / on (model) group_left (version) sum(rate(c_total[1m:10s])) > bool 1e3 or vector(0)';
    assert.deepEqual(metricNames(expr), ['a_total', 'c_total']);
  });

  it('reads a bare metric and one with a colon (a recording rule)', () => {
    assert.deepEqual(metricNames('up'), ['up']);
    assert.deepEqual(metricNames('sum(job:requests:rate5m) by (job)'), ['job:requests:rate5m']);
  });
});

describe('selectors', () => {
  it('names each selector’s metric and matched labels', () => {
    assert.deepEqual(selectors('x_total{model=~"$model",status!="200"} + y{ reason = "full" } + z'), [
      { metric: 'x_total', labels: ['model', 'status'] },
      { metric: 'y', labels: ['reason'] },
    ]);
  });
});

describe('withVariablesFilled', () => {
  it('makes interval variables durations and other variables a regular expression', () => {
    assert.equal(withVariablesFilled('rate(x{m=~"$model",v=~"${version:regex}"}[$__rate_interval])'), 'rate(x{m=~".*",v=~".*"}[5m])');
  });
});

describe('dashboardExpressions', () => {
  it('collects targets of panels, of panels inside collapsed rows, and label_values variables', () => {
    const dashboard = {
      panels: [
        { title: 'a', targets: [{ refId: 'A', expr: 'x' }] },
        { title: 'row', type: 'row', panels: [{ title: 'b', targets: [{ refId: 'A', expr: 'y' }, { refId: 'B', expr: 'z' }] }] },
      ],
      templating: { list: [{ type: 'datasource', name: 'datasource' }, { type: 'query', name: 'model', query: { query: 'label_values(up{job="m"}, model)' } }] },
    };
    assert.deepEqual(
      dashboardExpressions(dashboard).map((e) => e.expr),
      ['x', 'y', 'z', 'up{job="m"}'],
    );
  });

  it('refuses a variable query it does not understand', () => {
    assert.throws(() => dashboardExpressions({ templating: { list: [{ type: 'query', name: 'v', query: 'query_result(up)' }] } }), /only label_values/);
  });
});

describe('rulesFile', () => {
  it('holds each expression as a recording rule', () => {
    assert.deepEqual(JSON.parse(rulesFile(['a', 'b'])).groups[0].rules, [
      { record: 'dashboard:expression_0', expr: 'a' },
      { record: 'dashboard:expression_1', expr: 'b' },
    ]);
  });
});

describe('exportedSeries', () => {
  it('lists the series of each family, a histogram’s before its first observation, with the labels of samples', () => {
    const text = [
      '# HELP a_total A.',
      '# TYPE a_total counter',
      'a_total{model="m",status="200"} 1',
      '# HELP h_seconds H.',
      '# TYPE h_seconds histogram',
      '# TYPE g gauge',
      'g 0',
      '',
    ].join('\n');
    const series = exportedSeries(text);
    assert.deepEqual([...series.keys()], ['a_total', 'h_seconds_bucket', 'h_seconds_sum', 'h_seconds_count', 'g']);
    assert.deepEqual(series.get('a_total'), [new Set(['model', 'status'])]);
    assert.deepEqual(series.get('h_seconds_bucket'), []);
  });

  it('refuses a line that is not of the text format', () => {
    assert.throws(() => exportedSeries('a b c'), /not a line/);
  });
});
