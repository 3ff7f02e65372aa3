// What a Grafana dashboard asks Prometheus: its PromQL expressions, the metric names they read, and each expression
// with Grafana's variables filled in so that promtool can parse it. Only what a dashboard of ours contains is
// handled (no `__name__` matchers, no `@` timestamps); anything else fails the tests that use it rather than
// passing unseen.

/** Grafana's interval variables, given a value of their kind so that the expression stays valid PromQL. */
const INTERVALS = { __rate_interval: '5m', __interval: '1m', __range: '1h' };

/** Words of PromQL that look like metric names where they stand: operators and modifiers. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/** The panels of a dashboard, rows and the panels inside collapsed rows included. */
export function dashboardPanels(dashboard) {
  return (dashboard.panels ?? []).flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

/**
 * Every PromQL expression of a dashboard: panel targets, and the selector of each `label_values(<selector>, label)`
 * query variable. `where` says where it is, for messages.
 */
export function dashboardExpressions(dashboard) {
  const found = [];
  for (const panel of dashboardPanels(dashboard)) {
    for (const target of panel.targets ?? []) {
      if (typeof target.expr === 'string') found.push({ where: `panel "${panel.title}" target ${target.refId}`, expr: target.expr });
    }
  }
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type !== 'query') continue;
    const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
    const match = /^label_values\((.+),\s*(\w+)\)$/.exec(query ?? '');
    if (match === null) throw new Error(`variable ${variable.name}: only label_values(<selector>, <label>) queries are understood, not ${query}`);
    found.push({ where: `variable ${variable.name}`, expr: match[1] });
  }
  return found;
}

/** `expr` without its string literals (each left as an empty string), so that nothing inside one is read as syntax. */
function withoutStrings(expr) {
  return expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
}

/**
 * The metric names an expression reads: identifiers that are not functions or aggregations (followed by `(`),
 * keywords, label names (inside `{}` or a `by`/`without`/`on`/`ignoring`/`group_*` list), or durations (inside `[]`).
 */
export function metricNames(expr) {
  const bare = withoutStrings(expr)
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ');
  const names = new Set();
  for (const match of bare.matchAll(/(?<![\w.:])[a-zA-Z_:][\w:]*(?![\w:])(?!\s*\()/g)) {
    if (!KEYWORDS.has(match[0].toLowerCase())) names.add(match[0]);
  }
  return [...names];
}

/** Each `metric{label op "value", ...}` selector of an expression: the metric and the labels it matches on. */
export function selectors(expr) {
  return [...expr.matchAll(/(?<![\w.:])([a-zA-Z_:][\w:]*)\{([^}]*)\}/g)].map((match) => ({
    metric: match[1],
    labels: [...match[2].matchAll(/(\w+)\s*(?:=~|!~|!=|=)\s*"/g)].map((label) => label[1]),
  }));
}

/**
 * The expression as Prometheus would receive it: interval variables become durations and every other variable
 * (`$model`, `${model}`, `${model:regex}`) the regular expression `.*`, which is valid only inside a label matcher's
 * string, where Grafana's variables belong.
 */
export function withVariablesFilled(expr) {
  return expr
    .replace(/\$\{?(__rate_interval|__interval|__range)\}?/g, (_, name) => INTERVALS[name])
    .replace(/\$\{\w+(?::\w+)?\}|\$\w+/g, '.*');
}

/**
 * A Prometheus rules file (JSON is YAML) holding each expression as a recording rule, for `promtool check rules`,
 * which parses every expression with Prometheus' own parser.
 */
export function rulesFile(exprs) {
  return JSON.stringify({ groups: [{ name: 'dashboard', rules: exprs.map((expr, i) => ({ record: `dashboard:expression_${i}`, expr })) }] }, null, 2);
}
