/* The report page: reads the embedded JSON, draws the charts with ECharts, fills the tables
   and runs the instance explorer. Texts are gzip+base64 blobs inflated on first use. */
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('report-data').textContent);
  var SK = D.skills.map(function (s) { return s.key; });
  var SKNAME = {}; D.skills.forEach(function (s) { SKNAME[s.key] = s.name; });
  var charts = {};
  window.__report = { data: D, charts: charts };

  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'class') e.className = attrs[k];
      else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), attrs[k]);
      else e.setAttribute(k, attrs[k]);
    });
    (kids || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function f3(x) { return x == null ? 'N/A' : x.toFixed(3); }
  function f2(x) { return x == null ? 'N/A' : x.toFixed(2); }
  function ciText(c) { return !c || c.n === 0 ? '–' : f3(c.mean) + ' [' + f2(c.low) + ', ' + f2(c.high) + ']'; }
  function table(head, rows, numericFrom) {
    return el('table', null, [
      el('thead', null, [el('tr', null, head.map(function (h) { return el('th', { text: h }); }))]),
      el('tbody', null, rows.map(function (r) {
        return el('tr', null, r.map(function (c, i) { return el('td', { text: c == null ? '' : String(c), class: i >= (numericFrom || 99) ? 'num' : '' }); }));
      })),
    ]);
  }

  // ---- header, banner
  // Each run with the roles the offline endpoint played ("fa (judge)"): a run with a real model and a simulated judge says so.
  var sim = D.runs.filter(function (r) { return r.prov.simulated; }).map(function (r) {
    var roles = r.prov.simulatedRoles || [];
    return r.id + (roles.length ? ' (' + roles.join(' and ') + ')' : '');
  });
  if (sim.length) document.getElementById('banner').textContent = 'SIMULATED: ' + sim.join(', ') + ': produced by the offline endpoint, not a real model.';
  var bs = D.bootstrap;
  document.getElementById('meta').textContent = D.runs.length + ' run(s), generated ' + D.generatedAt + '. 95% CIs: percentile bootstrap over instances, B = ' + bs.resamples + ', seed = ' + bs.seed + '.';
  document.getElementById('ci-note').textContent = 'mean [95% CI], n = scores behind the mean, N/A = scores the judge marked not applicable (excluded). Bootstrap: instances resampled with replacement, B = ' + bs.resamples + ', seed = ' + bs.seed + '.' +
    ' A panel has one column per judge (RUN@J1, ... in the order the judges were given).' + (D.pooledDefinition ? ' ' + D.pooledDefinition + '.' : '');
  document.getElementById('footer').textContent = 'flask-eval report. Charts: Apache ECharts (inlined). FLASK: Ye et al., arXiv:2307.10928.';

  // ---- charts
  var runNames = D.runs.map(function (r) { return r.id; });
  function mk(id, h) {
    var node = typeof id === 'string' ? document.getElementById(id) : id;
    var c = echarts.init(node, null, { renderer: 'svg', height: h });
    return c;
  }
  function skillFig(run, key) { return run.figures.skills.find(function (s) { return s.skill === key; }); }
  charts.radar = mk('radar');
  charts.radar.setOption({
    animation: false,
    legend: { type: 'scroll', bottom: 0, data: runNames },
    tooltip: { trigger: 'item', confine: true },
    // FLASK's scale, fixed at 1-5 (not fitted to the data), labelled on the first axis only (ECharts keeps an indicator's own axisLabel).
    radar: {
      indicator: SK.map(function (k, i) { return { name: SKNAME[k], min: 1, max: 5, axisLabel: i === 0 ? { show: true, fontSize: 10, color: '#666', showMinLabel: true, showMaxLabel: true } : { show: false } }; }),
      radius: '65%', splitNumber: 4, axisLabel: { show: false },
    },
    series: D.runs.map(function (r) {
      return {
        type: 'radar', name: r.id,
        data: [{ name: r.id, value: SK.map(function (k) { var f = skillFig(r, k); return f && f.mean != null ? +f.mean.toFixed(4) : '-'; }) }],
      };
    }),
  });
  var diffBox = document.getElementById('difficulty');
  charts.difficulty = [];
  SK.forEach(function (k) {
    var has = D.runs.some(function (r) { return r.figures.difficulty.some(function (d) { return d.skill === k && d.n > 0; }); });
    if (!has) return;
    var node = el('div', { class: 'chart' });
    diffBox.appendChild(node);
    var c = mk(node);
    c.setOption({
      animation: false,
      title: { text: SKNAME[k], left: 'center', textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'axis', confine: true, formatter: function (ps) {
        return ps.map(function (p) {
          var d = D.runs[p.seriesIndex].figures.difficulty.find(function (x) { return x.skill === k && x.level === p.dataIndex + 1; });
          return p.seriesName + ': ' + ciText(d) + (d ? ' n=' + d.n : '');
        }).join('<br>');
      } },
      grid: { left: 36, right: 10, top: 30, bottom: 26 },
      xAxis: { type: 'category', data: ['1', '2', '3', '4', '5'] },
      yAxis: { type: 'value', min: 1, max: 5 },
      series: D.runs.map(function (r) {
        return { type: 'line', name: r.id, connectNulls: false, data: [1, 2, 3, 4, 5].map(function (l) {
          var d = r.figures.difficulty.find(function (x) { return x.skill === k && x.level === l; });
          return d && d.mean != null ? +d.mean.toFixed(4) : '-';
        }) };
      }),
    });
    charts.difficulty.push(c);
  });
  var domains = D.domainOrder.filter(function (d) { return D.runs.some(function (r) { return r.figures.domains.some(function (x) { return x.domain === d; }); }); });
  D.runs.forEach(function (r) { r.figures.domains.forEach(function (x) { if (domains.indexOf(x.domain) < 0) domains.push(x.domain); }); });
  charts.domain = mk('domain');
  charts.domain.setOption({
    animation: false,
    legend: { type: 'scroll', bottom: 0, data: runNames },
    tooltip: { trigger: 'axis', confine: true, formatter: function (ps) {
      return ps[0].name + '<br>' + ps.map(function (p) {
        var d = D.runs[p.seriesIndex].figures.domains.find(function (x) { return x.domain === p.name; });
        return p.seriesName + ': ' + ciText(d) + (d ? ' n=' + d.n : '');
      }).join('<br>');
    } },
    grid: { left: 40, right: 10, top: 10, bottom: 60 },
    xAxis: { type: 'category', data: domains },
    yAxis: { type: 'value', min: 1, max: 5 },
    series: D.runs.map(function (r) {
      return { type: 'bar', name: r.id, data: domains.map(function (d) { var x = r.figures.domains.find(function (y) { return y.domain === d; }); return x && x.mean != null ? +x.mean.toFixed(4) : '-'; }) };
    }).concat(D.runs.length > 6 ? [] : D.runs.map(function (r, k) {
      // 95% CI whiskers over each bar (left out past 6 runs, where bars get too thin to read them)
      var n = D.runs.length;
      return {
        type: 'custom', name: r.id, silent: true, z: 10, tooltip: { show: false },
        data: domains.map(function (d, i) { var x = r.figures.domains.find(function (y) { return y.domain === d; }); return x && x.low != null ? [i, x.low, x.high] : [i, '-', '-']; }),
        renderItem: function (params, api) {
          if (isNaN(api.value(1))) return null;
          var band = api.size([1, 0])[0] * 0.8, w = band / n, cx = api.coord([api.value(0), 0])[0] - band / 2 + w * (k + 0.5);
          var lo = api.coord([api.value(0), api.value(1)])[1], hi = api.coord([api.value(0), api.value(2)])[1], cap = Math.min(6, w / 3);
          var st = { stroke: '#222', lineWidth: 1 };
          return { type: 'group', children: [
            { type: 'line', shape: { x1: cx, y1: lo, x2: cx, y2: hi }, style: st },
            { type: 'line', shape: { x1: cx - cap, y1: lo, x2: cx + cap, y2: lo }, style: st },
            { type: 'line', shape: { x1: cx - cap, y1: hi, x2: cx + cap, y2: hi }, style: st },
          ] };
        },
      };
    })),
  });
  // A phone (390 px): a smaller radar with two-line axis names, and every domain label drawn (rotated) instead of every fifth.
  function fitToWidth() {
    var narrow = document.getElementById('radar').clientWidth < 600;
    charts.radar.setOption({ radar: {
      radius: narrow ? '55%' : '65%',
      axisName: { fontSize: narrow ? 10 : 12, lineHeight: narrow ? 13 : 16, formatter: function (n) { return narrow ? n.replace(' ', '\n') : n; } },
    } });
    charts.domain.setOption({
      grid: { left: 40, right: 10, top: 10, bottom: narrow ? 120 : 60 },
      xAxis: { axisLabel: { interval: 0, rotate: narrow ? 60 : 0, hideOverlap: false, fontSize: narrow ? 10 : 12 } },
    });
  }
  fitToWidth();
  window.addEventListener('resize', function () {
    [charts.radar, charts.domain].concat(charts.difficulty).forEach(function (c) { c.resize(); });
    fitToWidth();
  });

  // ---- tables
  function figRow(label, get) {
    var row = [label];
    D.runs.forEach(function (r) { var c = get(r); row.push(ciText(c), c ? c.n : 0, c ? c.naCount : 0); });
    return row;
  }
  var head = ['skill']; D.runs.forEach(function (r) { head.push(r.id + ' mean [95% CI]', 'n', 'N/A'); });
  var rows = SK.filter(function (k) { return D.runs.some(function (r) { return skillFig(r, k); }); }).map(function (k) { return figRow(SKNAME[k], function (r) { return skillFig(r, k); }); });
  rows.push(figRow('overall (all scores)', function (r) { return r.figures.overall; }));
  document.getElementById('skill-table').appendChild(table(head, rows, 1));
  var dhead = ['domain']; D.runs.forEach(function (r) { dhead.push(r.id + ' mean [95% CI]', 'n', 'N/A'); });
  document.getElementById('domain-table').appendChild(table(dhead, domains.map(function (d) {
    return figRow(d, function (r) { return r.figures.domains.find(function (x) { return x.domain === d; }); });
  }), 1));

  var fhead = ['skill', 'level']; D.runs.forEach(function (r) { fhead.push(r.id + ' mean [95% CI]', 'n', 'cumulative [95% CI]'); });
  var frows = [];
  SK.forEach(function (k) {
    if (!D.runs.some(function (r) { return r.figures.difficulty.some(function (d) { return d.skill === k; }); })) return;
    D.levels.forEach(function (l, i) {
      var row = [SKNAME[k], (i + 1) + ' ' + l];
      D.runs.forEach(function (r) {
        var d = r.figures.difficulty.find(function (x) { return x.skill === k && x.level === i + 1; });
        row.push(ciText(d), d ? d.n : 0, d ? ciText(d.cumulative) : '–');
      });
      frows.push(row);
    });
  });
  document.getElementById('difficulty-table').appendChild(table(fhead, frows, 2));

  // ---- provenance
  function host(u) { if (!u) return '–'; try { return new URL(u).host || u; } catch (e) { return u; } }
  function js(v) { return v == null ? '–' : typeof v === 'string' ? v : JSON.stringify(v); }
  var fields = [
    ['kind', function (p) { return p.kind; }],
    ['SIMULATED', function (p) { return p.simulated ? 'yes: offline endpoint' : 'no'; }],
    ['model', function (p) { return p.modelId; }], ['model endpoint', function (p) { return host(p.modelEndpoint); }],
    ['model settings', function (p) { return js(p.modelSettings); }],
    ['judge', function (p) { return p.judgeModel + (p.judgeProfile ? ' (' + p.judgeProfile + ')' : ''); }],
    ['judge id', function (p) { return p.judgeId || '–'; }], ['judge endpoint', function (p) { return host(p.judgeEndpoint); }],
    ['judge settings', function (p) { return js(p.judgeSettings); }],
    ['served models', function (p) { return p.servedModels.join(', ') || '–'; }],
    ['dataset', function (p) { return (p.datasetPath || '–') + (p.datasetSha256 ? ' sha256 ' + p.datasetSha256.slice(0, 16) + '…' : ''); }],
    ['answers', function (p) { return (p.answersPath || '–') + (p.answersSha256 ? ' sha256 ' + p.answersSha256.slice(0, 16) + '…' : ''); }],
    ['prompt template sha256', function (p) { return p.promptTemplateSha256 ? p.promptTemplateSha256.slice(0, 16) + '…' : '–'; }],
    ['version', function (p) { return p.projectVersion; }],
    ['created', function (p) { return p.createdAt; }],
    ['reviews', function (p) { return (p.firstReviewAt || '–') + ' → ' + (p.lastReviewAt || '–'); }],
    ['instances / scored / failed', function (p) { return p.instances + ' / ' + p.scored + ' / ' + p.failed; }],
  ];
  document.getElementById('prov-table').appendChild(table(['field'].concat(runNames), fields.map(function (f) {
    return [f[0]].concat(D.runs.map(function (r) { var v = f[1](r.prov); return v == null ? '–' : String(v); }));
  })));

  // ---- leaderboard (flask-eval leaderboard's figures for the report's columns)
  var lbBox = document.getElementById('leaderboard-table');
  if (!D.leaderboard) lbBox.appendChild(el('p', { text: 'One column, or no instance every column scored: nothing to rank.' }));
  else {
    document.getElementById('leaderboard-note').textContent = D.leaderboard.note;
    lbBox.appendChild(table(D.leaderboard.head, D.leaderboard.rows, 2));
  }

  // ---- judge reliability (flask-eval judge-report; shown for panels, --judge-samples and human labels)
  var rel = document.getElementById('reliability-tables');
  if (!D.reliability.length) rel.appendChild(el('p', { text: 'No panel, repeated samples (--judge-samples) or human labels in these runs: flask-eval judge-report RUN has the per-skill figures.' }));
  D.reliability.forEach(function (j) {
    rel.appendChild(el('h4', { text: j.run + ': ' + j.judge + ' — ' + j.summary }));
    rel.appendChild(table(D.reliabilityHead, j.rows, 1));
  });

  // ---- failures
  var failBox = document.getElementById('fail-list');
  D.runs.forEach(function (r) {
    var d = el('details', null, [el('summary', { text: r.id + ': ' + r.failures.length + ' failed' })]);
    if (r.failures.length) d.appendChild(table(['idx', 'stage', 'attempts', 'reason'], r.failures.map(function (f) { return [f.idx, f.stage, f.attempts == null ? '–' : f.attempts, f.reason]; })));
    else d.appendChild(el('p', { text: 'none' }));
    failBox.appendChild(d);
  });

  // ---- explorer
  var INST = D.instances; // [idx, task, skills, domains, level, snippet, differs]
  var state = { skill: '', domain: '', level: '', run: '0', min: '', max: '', status: '', text: '', page: 0 };
  var PAGE = 50;
  function cell(run, i) { return run.cells[i]; }
  function scoreOf(run, i, skill) {
    var c = cell(run, i);
    if (!c || c[0] !== 's') return null;
    if (skill) return c[2][skill] == null ? null : c[2][skill];
    var s = 0, n = 0; Object.keys(c[2]).forEach(function (k) { if (c[2][k] != null) { s += c[2][k]; n++; } });
    return n ? s / n : null;
  }
  function sel(key, label, opts) {
    var s = el('select', { 'data-filter': key, onchange: function () { state[key] = s.value; state.page = 0; render(); } },
      opts.map(function (o) { return el('option', { value: o[0], text: o[1] }); }));
    return el('label', null, [label + ' ', s]);
  }
  function inp(key, label, type, width) {
    var i = el('input', { type: type, 'data-filter': key, style: 'width:' + width, oninput: function () { state[key] = i.value; state.page = 0; render(); } });
    return el('label', null, [label + ' ', i]);
  }
  var allDomains = []; INST.forEach(function (x) { x[3].forEach(function (d) { if (allDomains.indexOf(d) < 0) allDomains.push(d); }); });
  allDomains.sort(function (a, b) { var ia = D.domainOrder.indexOf(a), ib = D.domainOrder.indexOf(b); return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || (a < b ? -1 : 1); });
  var fbox = document.getElementById('filters');
  fbox.appendChild(sel('skill', 'skill', [['', 'any']].concat(SK.map(function (k) { return [k, SKNAME[k]]; }))));
  fbox.appendChild(sel('domain', 'domain', [['', 'any']].concat(allDomains.map(function (d) { return [d, d]; }))));
  fbox.appendChild(sel('level', 'difficulty', [['', 'any']].concat(D.levels.map(function (l, i) { return [String(i + 1), (i + 1) + ' ' + l]; })).concat([['0', 'unlabelled']])));
  fbox.appendChild(sel('run', 'score of', D.runs.map(function (r, i) { return [String(i), r.id]; })));
  fbox.appendChild(inp('min', 'min', 'number', '4em'));
  fbox.appendChild(inp('max', 'max', 'number', '4em'));
  fbox.appendChild(sel('status', 'status', [['', 'any'], ['s', 'scored'], ['f', 'failed'], ['n', 'not reviewed']]));
  fbox.appendChild(inp('text', 'idx or text', 'search', '14em'));

  function matches(i) {
    var x = INST[i];
    if (state.skill && x[2].indexOf(state.skill) < 0) return false;
    if (state.domain && x[3].indexOf(state.domain) < 0) return false;
    if (state.level !== '' && String(x[4]) !== state.level) return false;
    var run = D.runs[+state.run];
    var c = cell(run, i);
    if (state.status && (!c || c[0] !== state.status)) return false;
    if (state.min !== '' || state.max !== '') {
      var s = scoreOf(run, i, state.skill);
      if (s == null) return false;
      if (state.min !== '' && s < +state.min) return false;
      if (state.max !== '' && s > +state.max) return false;
    }
    if (state.text) {
      var t = state.text.toLowerCase();
      if (String(x[0]) !== t && x[5].toLowerCase().indexOf(t) < 0 && x[1].toLowerCase().indexOf(t) < 0) return false;
    }
    return true;
  }
  var thead = document.querySelector('#explorer-table thead');
  thead.appendChild(el('tr', null, ['idx', 'task', 'difficulty', 'domains', 'skills', 'instruction'].concat(runNames).map(function (h) { return el('th', { text: h }); })));
  var tbody = document.querySelector('#explorer-table tbody');
  var pager = document.getElementById('pager');
  function render() {
    var hits = [];
    for (var i = 0; i < INST.length; i++) if (matches(i)) hits.push(i);
    var pages = Math.max(1, Math.ceil(hits.length / PAGE));
    if (state.page >= pages) state.page = pages - 1;
    var shown = hits.slice(state.page * PAGE, state.page * PAGE + PAGE);
    tbody.textContent = '';
    shown.forEach(function (i) {
      var x = INST[i];
      var tds = [x[0], x[1], x[4] || '–', x[3].join(', ') || '–', x[2].join(', '), x[5]].map(function (v) { return el('td', { text: String(v) }); });
      D.runs.forEach(function (r) {
        var c = cell(r, i);
        var s = scoreOf(r, i, state.skill);
        tds.push(el('td', { class: 'num' + (c && c[0] === 'f' ? ' failed' : ''), text: !c ? '' : c[0] === 'f' ? 'failed' : c[0] === 'n' ? '…' : s == null ? 'N/A' : s.toFixed(2) }));
      });
      tbody.appendChild(el('tr', { 'data-idx': x[0], onclick: function () { openInstance(i); } }, tds));
    });
    document.getElementById('explorer-count').textContent = hits.length + ' of ' + INST.length + ' instances match; showing ' +
      (hits.length ? state.page * PAGE + 1 : 0) + '–' + (state.page * PAGE + shown.length) + '. Run columns: ' + (state.skill ? SKNAME[state.skill] + ' score' : 'mean of the instance\'s scores') + '. Click a row to read it.';
    pager.textContent = '';
    pager.appendChild(el('button', { text: '‹ previous', onclick: function () { if (state.page > 0) { state.page--; render(); } } }));
    pager.appendChild(document.createTextNode('page ' + (state.page + 1) + ' / ' + pages + ' '));
    pager.appendChild(el('button', { text: 'next ›', onclick: function () { if (state.page < pages - 1) { state.page++; render(); } } }));
  }

  var cache = {};
  function inflate(id) {
    if (cache[id]) return cache[id];
    var node = document.getElementById(id);
    if (!node) return (cache[id] = Promise.resolve(null));
    var b64 = node.textContent.trim();
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return (cache[id] = new Response(stream).text().then(JSON.parse));
  }
  window.__report.inflate = inflate;
  function openInstance(i) {
    var x = INST[i];
    var box = document.getElementById('detail');
    box.textContent = 'loading…';
    var chunk = Math.floor(i / D.textChunk);
    Promise.all([inflate('texts-shared-' + chunk)].concat(D.runs.map(function (r, k) { return inflate('texts-' + k + '-' + chunk); }))).then(function (all) {
      var shared = all[0][i - chunk * D.textChunk];
      box.textContent = '';
      box.appendChild(el('h3', { text: 'Instance ' + x[0] + ' (' + x[1] + ')' }));
      box.appendChild(el('p', { text: 'skills: ' + x[2].map(function (k) { return SKNAME[k] || k; }).join(', ') + '; domains: ' + (x[3].join(', ') || 'unlabelled') + '; difficulty: ' + (x[4] ? x[4] + ' ' + D.levels[x[4] - 1] : 'unlabelled') }));
      if (x[6].length) box.appendChild(el('p', { class: 'failed', text: 'note: the instruction differs in ' + x[6].join(', ') + ' (shown: the first run\'s)' }));
      box.appendChild(el('h4', { text: 'Instruction' })); box.appendChild(el('pre', { text: shared[0] }));
      box.appendChild(el('h4', { text: 'Reference answer' })); box.appendChild(el('pre', { text: shared[1] || '(none)' }));
      var cards = el('div', { class: 'cards' });
      D.runs.forEach(function (r, k) {
        var c = cell(r, i);
        if (!c) return;
        var t = all[k + 1] ? all[k + 1][x[0]] : null;
        var card = el('div', { class: 'card' }, [el('h4', { text: r.id + (r.prov.simulated ? ' (SIMULATED)' : '') })]);
        var st = c[0] === 's' ? 'scored' : c[0] === 'f' ? 'failed' : 'not reviewed';
        card.appendChild(el('p', { class: c[0] === 'f' ? 'failed' : '', text: st + (c[1] ? ', ' + c[1] + ' judge answer(s)' : '') + (c[3] != null ? ', ' + c[3] + ' judge tokens' : '') + (c[4] ? ': ' + c[4] : '') }));
        if (c[0] === 's') card.appendChild(el('p', { text: Object.keys(c[2]).map(function (k2) { return (SKNAME[k2] || k2) + ' ' + (c[2][k2] == null ? 'N/A' : c[2][k2]); }).join('; ') }));
        if (!D.textsIncluded) card.appendChild(el('p', { class: 'note', text: 'texts not included (report --texts none); flask-eval show ' + r.id + ' ' + x[0] }));
        else {
          card.appendChild(el('h5', { text: 'Response' + (t && t[3] ? ' (' + t[3] + ')' : '') })); card.appendChild(el('pre', { text: t && t[0] != null ? t[0] : '(none)' }));
          card.appendChild(el('h5', { text: 'Judge\'s text' })); card.appendChild(el('pre', { text: t && t[1] != null ? t[1] : '(none)' }));
          if (t && t[2]) card.appendChild(el('p', { class: 'failed', text: 'error: ' + t[2] }));
        }
        cards.appendChild(card);
      });
      box.appendChild(cards);
      box.scrollIntoView({ block: 'start' });
    }).catch(function (e) { box.textContent = 'could not read the texts: ' + e; });
  }
  window.__report.openInstance = openInstance;
  render();
  window.__report.ready = true;
})();
