// Weir console: a small single-page app over the JSON API in
// crates/weir-broker/src/console/api.rs. Every value from the broker is
// untrusted (topic names, group ids, client ids, record keys, values and
// headers): it is only ever inserted as text (text nodes, textContent,
// attribute values), never parsed as HTML.
'use strict';

const REFRESH_MS = 5000;
let timer = null;

// el('td', {class: 'num'}, 'text', node, ...): children are text or nodes.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function link(hash, text) {
  return el('a', { href: hash }, text);
}

function topicHash(name) { return '#/topics/' + encodeURIComponent(name); }
function groupHash(id) { return '#/groups/' + encodeURIComponent(id); }

function fmtBytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
}

function fmtRate(n, unit) {
  if (!n) return '0 ' + unit + '/s';
  return (n >= 100 ? Math.round(n) : n.toFixed(1)) + ' ' + unit + '/s';
}

function fmtDuration(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
  const m = Math.floor(s % 3600 / 60);
  return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + m + 'm ' + (s % 60) + 's';
}

function fmtTime(ms) {
  return new Date(ms).toISOString();
}

function card(k, v, id) {
  return el('div', { class: 'card', id }, el('div', { class: 'k' }, k), el('div', { class: 'v' }, v));
}

// table(['h1', {text: 'h2', num: true}], rows): rows are arrays of cells
// (text, node, or {v, num}).
function table(headers, rows, id) {
  const head = el('tr', {}, headers.map(h => typeof h === 'string'
    ? el('th', {}, h) : el('th', { class: h.num ? 'num' : null }, h.text)));
  const body = rows.map(r => el('tr', {}, r.map(c =>
    (c && typeof c === 'object' && !(c instanceof Node))
      ? el('td', { class: c.cls || (c.num ? 'num' : null) }, c.v) : el('td', {}, c))));
  if (rows.length === 0) {
    body.push(el('tr', {}, el('td', { colspan: headers.length, class: 'muted' }, 'none')));
  }
  return el('table', { id }, el('thead', {}, head), el('tbody', {}, body));
}

function num(v) { return { v: v === null || v === undefined ? '–' : v, num: true }; }

// A line chart of series [{name, points: [[ts, value], ...]}] as SVG.
function lineChart(title, series, fmt, id) {
  const NS = 'http://www.w3.org/2000/svg';
  const W = 800, H = 180, L = 70, R = 10, T = 10, B = 22;
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  const all = series.flatMap(s => s.points);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  add('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B });
  add('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B });
  if (all.length >= 2) {
    const t0 = Math.min(...all.map(p => p[0])), t1 = Math.max(...all.map(p => p[0]));
    const vmax = Math.max(1, ...all.map(p => p[1]));
    const x = t => L + (W - L - R) * (t1 === t0 ? 1 : (t - t0) / (t1 - t0));
    const y = v => H - B - (H - B - T) * (v / vmax);
    series.forEach((s, i) => {
      add('polyline', { class: 's' + i, points: s.points.map(p => x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1)).join(' ') });
    });
    add('text', { x: 4, y: T + 8 }, fmt(vmax));
    add('text', { x: 4, y: H - B }, fmt(0));
    add('text', { x: L, y: H - 6 }, new Date(t0).toLocaleTimeString());
    add('text', { x: W - R - 60, y: H - 6 }, new Date(t1).toLocaleTimeString());
  } else {
    add('text', { x: L + 10, y: H / 2 }, 'collecting samples…');
  }
  const legend = el('div', { class: 'legend' }, series.map((s, i) => el('span', { class: 's' + i }, '— ' + s.name)));
  return el('div', { class: 'chart', id }, el('div', {}, el('strong', {}, title)), svg, legend);
}

async function getJson(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || (res.status + ' ' + res.statusText));
  return body;
}

// ---------------------------------------------------------------- views

async function overview() {
  const o = await getJson('/api/overview');
  const tp = o.throughput;
  return [
    el('h1', {}, 'Cluster overview'),
    el('div', { class: 'cards' },
      card('Cluster id', o.cluster_id, 'cluster-id'),
      card('Version', o.version),
      card('Uptime', fmtDuration(o.uptime_seconds), 'uptime'),
      card('Controller', 'broker ' + o.controller_id),
      card('Brokers', o.brokers.length),
      card('Topics', o.topics, 'topic-count'),
      card('Partitions', o.partitions),
      card('Consumer groups', o.groups),
      card('Data on disk', fmtBytes(o.size_bytes))),
    el('h2', {}, 'Brokers'),
    table(['Id', 'Host', 'Port', 'Role'], o.brokers.map(b =>
      [num(b.id), b.host, num(b.port), b.id === o.controller_id ? 'controller, broker' : 'broker']), 'brokers'),
    el('h2', {}, 'Throughput'),
    lineChart('Bytes per second', [
      { name: 'in (produce)', points: tp.map(s => [s.ts, s.rates.bytes_in]) },
      { name: 'out (consume)', points: tp.map(s => [s.ts, s.rates.bytes_out]) },
    ], v => fmtBytes(v) + '/s', 'chart-bytes'),
    lineChart('Records per second', [
      { name: 'in', points: tp.map(s => [s.ts, s.rates.records_in]) },
      { name: 'out', points: tp.map(s => [s.ts, s.rates.records_out]) },
    ], v => fmtRate(v, 'rec'), 'chart-records'),
  ];
}

async function topics() {
  const t = await getJson('/api/topics');
  return [
    el('h1', {}, 'Topics'),
    table(['Topic', { text: 'Partitions', num: true }, { text: 'Replicas', num: true },
      { text: 'Records', num: true }, { text: 'Size', num: true }, 'Cleanup', 'Retention (ms)',
      { text: 'Produce', num: true }, { text: 'Consume', num: true }],
    t.topics.map(x => [
      el('span', {}, link(topicHash(x.name), x.name), x.internal ? el('span', { class: 'tag' }, 'internal') : null),
      num(x.partitions), num(x.replication_factor), num(x.records), num(fmtBytes(x.size_bytes)),
      x.cleanup_policy, x.retention_ms,
      num(fmtRate(x.rates.records_in, 'rec')), num(fmtRate(x.rates.records_out, 'rec')),
    ]), 'topics'),
  ];
}

async function topic(name) {
  const t = await getJson('/api/topics/' + encodeURIComponent(name));
  return [
    el('h1', {}, 'Topic ', el('span', { id: 'topic-name' }, t.name)),
    el('div', { class: 'cards' },
      card('Partitions', t.partitions.length),
      card('Produce', fmtRate(t.rates.records_in, 'rec') + ' · ' + fmtBytes(t.rates.bytes_in) + '/s'),
      card('Consume', fmtRate(t.rates.records_out, 'rec') + ' · ' + fmtBytes(t.rates.bytes_out) + '/s'),
      card('Topic id', t.id)),
    el('h2', {}, 'Partitions'),
    table([{ text: 'Partition', num: true }, { text: 'Leader', num: true }, 'Replicas', 'ISR',
      { text: 'Log start', num: true }, { text: 'High watermark', num: true }, { text: 'Size', num: true }, ''],
    t.partitions.map(p => [num(p.partition), num(p.leader), p.replicas.join(', '), p.isr.join(', '),
      num(p.log_start_offset), num(p.high_watermark), num(fmtBytes(p.size_bytes)),
      link(topicHash(t.name) + '/records?partition=' + p.partition + '&offset=' + (p.log_start_offset || 0), 'browse')]),
    'partitions'),
    el('h2', {}, 'Configs'),
    table(['Name', 'Value', 'Source'], t.configs.map(c => [c.name, c.value,
      el('span', { class: c.source === 'DYNAMIC_TOPIC_CONFIG' ? 'tag' : 'muted' }, c.source)]), 'configs'),
  ];
}

// A key, value or header value: null, text (JSON pretty-printed), or hex.
function bytesCell(b) {
  if (b === null || b === undefined) return el('span', { class: 'muted' }, 'null');
  let text = b.text;
  if (b.encoding === 'utf8' && !b.truncated) {
    try {
      const parsed = JSON.parse(text);
      if (parsed !== null && typeof parsed === 'object') text = JSON.stringify(parsed, null, 2);
    } catch (_) { /* not JSON: shown as is */ }
  }
  const note = [];
  if (b.encoding === 'hex') note.push('hex');
  if (b.truncated) note.push('first part of ' + b.size + ' bytes');
  return el('div', {}, el('pre', {}, text), note.length ? el('span', { class: 'muted' }, note.join(', ')) : null);
}

async function records(name, params) {
  const q = new URLSearchParams();
  const partition = params.get('partition') || '0';
  q.set('partition', partition);
  if (params.get('timestamp')) q.set('timestamp', params.get('timestamp'));
  else q.set('offset', params.get('offset') || '0');
  q.set('limit', params.get('limit') || '20');
  const [t, page] = await Promise.all([
    getJson('/api/topics/' + encodeURIComponent(name)),
    getJson('/api/topics/' + encodeURIComponent(name) + '/records?' + q.toString()),
  ]);
  const base = topicHash(name) + '/records?';
  const go = (o) => {
    const n = new URLSearchParams({ partition: form.partition.value, limit: form.limit.value });
    for (const [k, v] of Object.entries(o)) n.set(k, v);
    location.hash = base + n.toString();
  };
  const form = el('form', { class: 'browse', id: 'browse' },
    el('label', {}, 'Partition', el('select', { name: 'partition' },
      t.partitions.map(p => {
        const o = el('option', { value: p.partition }, p.partition);
        if (String(p.partition) === partition) o.selected = true;
        return o;
      }))),
    el('label', {}, 'Offset', el('input', { name: 'offset', type: 'number', value: page.from })),
    el('label', {}, 'or timestamp (ms)', el('input', { name: 'timestamp', type: 'number', value: params.get('timestamp') || '' })),
    el('label', {}, 'Records', el('input', { name: 'limit', type: 'number', min: 1, max: 100, value: q.get('limit') })),
    el('button', { type: 'submit' }, 'Show'),
    el('button', { type: 'button', id: 'next', onclick: () => go({ offset: page.next_offset }) }, 'Next page'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (form.timestamp.value) go({ timestamp: form.timestamp.value });
    else go({ offset: form.offset.value || 0 });
  });
  return [
    el('h1', {}, 'Records of ', link(topicHash(name), name), ' partition ' + page.partition),
    el('p', { class: 'muted' }, 'Offsets ' + page.log_start_offset + ' to ' + (page.high_watermark - 1) +
      ' in the log; showing ' + page.records.length + ' from offset ' + page.from + '.'),
    form,
    table([{ text: 'Offset', num: true }, 'Timestamp', 'Key', 'Value', 'Headers'],
      page.records.map(r => [num(r.offset), fmtTime(r.timestamp), bytesCell(r.key), bytesCell(r.value),
        el('div', {}, r.headers.map(h => el('div', {}, el('span', { class: 'tag' }, h.key), bytesCell(h.value))))]),
      'records'),
  ];
}

async function groups() {
  const g = await getJson('/api/groups');
  return [
    el('h1', {}, 'Consumer groups'),
    g.loading ? el('p', { class: 'muted' }, 'The group coordinator is loading.') : null,
    table(['Group', 'State', 'Protocol type', { text: 'Members', num: true }, { text: 'Lag', num: true }],
      g.groups.map(x => [link(groupHash(x.group_id), x.group_id), x.state, x.protocol_type,
        num(x.members), { v: x.lag, num: true, cls: 'num lag' }]), 'groups'),
  ];
}

async function group(id) {
  const g = await getJson('/api/groups/' + encodeURIComponent(id));
  const total = g.offsets.reduce((a, o) => a + o.lag, 0);
  return [
    el('h1', {}, 'Group ', el('span', { id: 'group-id' }, g.group_id)),
    el('div', { class: 'cards' },
      card('State', g.state, 'group-state'),
      card('Protocol', (g.protocol_type || '–') + (g.protocol ? ' / ' + g.protocol : '')),
      card('Members', g.members.length),
      card('Total lag', total, 'group-lag')),
    lineChart('Total lag over time', [{ name: 'lag (records)', points: g.lag_history.map(s => [s.ts, s.lag]) }],
      v => String(Math.round(v)), 'chart-lag'),
    el('h2', {}, 'Members'),
    table(['Member', 'Instance', 'Client id', 'Host', 'Assignment'], g.members.map(m => [m.member_id,
      m.group_instance_id || '–', m.client_id, m.client_host,
      m.assignment.map(a => a.topic + ' [' + a.partitions.join(', ') + ']').join('; ')]), 'members'),
    el('h2', {}, 'Offsets and lag'),
    table(['Topic', { text: 'Partition', num: true }, { text: 'Committed', num: true },
      { text: 'End offset', num: true }, { text: 'Lag', num: true }],
    g.offsets.map(o => [link(topicHash(o.topic), o.topic), num(o.partition), num(o.committed), num(o.end),
      { v: o.lag, num: true, cls: 'num lag' }]), 'offsets'),
  ];
}

// ---------------------------------------------------------------- routing

function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query] = hash.split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'topics' && parts.length === 1) return { nav: 'topics', render: topics, live: true };
  if (parts[0] === 'topics' && parts[2] === 'records') return { nav: 'topics', render: () => records(parts[1], params), live: false };
  if (parts[0] === 'topics') return { nav: 'topics', render: () => topic(parts[1]), live: true };
  if (parts[0] === 'groups' && parts.length === 1) return { nav: 'groups', render: groups, live: true };
  if (parts[0] === 'groups') return { nav: 'groups', render: () => group(parts[1]), live: true };
  return { nav: 'overview', render: overview, live: true };
}

async function show() {
  clearTimeout(timer);
  const r = route();
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('active', a.dataset.nav === r.nav);
  }
  const view = document.getElementById('view');
  try {
    const nodes = await r.render();
    view.replaceChildren(...nodes.filter(Boolean));
    view.dataset.ready = location.hash;
  } catch (e) {
    view.replaceChildren(el('p', { class: 'error' }, 'Could not load: ' + e.message));
    view.dataset.ready = location.hash;
  }
  if (r.live) timer = setTimeout(show, REFRESH_MS);
}

async function init() {
  try {
    const o = await getJson('/api/overview');
    document.getElementById('mode').textContent = 'Weir ' + o.version + (o.read_only ? ' · read-only' : '');
  } catch (_) { /* the view shows the error */ }
  window.addEventListener('hashchange', show);
  show();
}

init();
