// sigrelay live dashboard: polls /stats.json and shows what an operator of the relay
// watches. No framework and no network beyond the stats server: the page is served by
// the daemon itself on hosts that often have no internet access.
//
// Rates are the difference of a counter between two samples divided by the difference
// of the samples' own "time" field (the daemon's clock), so they do not depend on the
// browser's clock, on poll jitter, or on how long a request took.
'use strict';

(function () {
  const kStatsUrl = '/stats.json';
  const kDefaultIntervalMs = 2000;
  const kMinIntervalMs = 50;
  const kWindowS = 300;
  const kStaleIntervals = 3;
  const kDash = '\u2014';
  // A namespace name, never fetched: createElementNS needs it to make SVG nodes.
  const kSvgNs = 'http://www.w3.org/2000/svg';

  // Reason phrases (RFC 3261 §21) and what each answer means for this relay (DESIGN §1).
  const kCodeMeaning = {
    100: 'Trying',
    180: 'Ringing',
    183: 'Session Progress',
    200: 'OK',
    302: 'Moved Temporarily \u2014 route / signed',
    400: 'Bad Request',
    403: 'Forbidden \u2014 relay not whitelisted?',
    404: 'Not Found \u2014 relay not whitelisted?',
    408: 'Request Timeout',
    483: 'Too Many Hops',
    487: 'Request Terminated',
    500: 'Server Internal Error',
    503: 'Service Unavailable \u2014 route-advance',
    603: 'Decline \u2014 blocked',
  };

  // ---- formatting -------------------------------------------------------------------

  function num(v) {
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  }

  function dig(obj, ...path) {
    let o = obj;
    for (const k of path) {
      if (o === null || typeof o !== 'object') return undefined;
      o = o[k];
    }
    return o;
  }

  function plainObject(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
  }

  function str(v) {
    if (typeof v === 'string' && v !== '') return v;
    if (num(v) !== null) return String(v);
    return kDash;
  }

  // Thousands grouped with commas, independent of the browser's locale.
  function fmtInt(v) {
    v = num(v);
    if (v === null) return kDash;
    return Math.round(v).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  }

  function fmtDecimal(v) {
    if (v < 10) return v.toFixed(2);
    if (v < 100) return v.toFixed(1);
    return fmtInt(v);
  }

  function fmtRate(v) {
    v = num(v);
    return v === null ? kDash : fmtDecimal(v);
  }

  function fmtPercent(v) {
    v = num(v);
    return v === null ? kDash : v.toFixed(1) + '%';
  }

  function usToMs(us) {
    us = num(us);
    return us === null ? null : us / 1000;
  }

  function fmtMs(ms) {
    ms = num(ms);
    return ms === null ? kDash : fmtDecimal(ms);
  }

  function pad2(n) {
    return n < 10 ? '0' + n : String(n);
  }

  function fmtDuration(s) {
    s = num(s);
    if (s === null || s < 0) return kDash;
    if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + 's';
    const total = Math.floor(s);
    const d = Math.floor(total / 86400);
    const h = Math.floor((total % 86400) / 3600);
    const m = Math.floor((total % 3600) / 60);
    const sec = total % 60;
    if (d > 0) return d + 'd ' + pad2(h) + 'h ' + pad2(m) + 'm';
    if (h > 0) return h + 'h ' + pad2(m) + 'm ' + pad2(sec) + 's';
    return m + 'm ' + pad2(sec) + 's';
  }

  function fmtClock(t) {
    t = num(t);
    if (t === null) return kDash;
    const d = new Date(t * 1000);
    if (Number.isNaN(d.getTime())) return kDash;
    return d.toISOString().slice(11, 19) + ' UTC';
  }

  function fmtAxis(v) {
    return Number(v.toPrecision(3)).toString();
  }

  // ---- DOM helpers ------------------------------------------------------------------

  function field(name) {
    return document.querySelector('[data-field="' + name + '"]');
  }

  function setValue(el, text, value) {
    el.textContent = text;
    if (value === null || value === undefined) el.removeAttribute('data-value');
    else el.setAttribute('data-value', String(value));
  }

  function setField(name, text, value) {
    const el = field(name);
    if (el) setValue(el, text, value);
  }

  function cell(text, fieldName, value, cls) {
    const td = document.createElement('td');
    if (fieldName) td.setAttribute('data-field', fieldName);
    if (cls) td.className = cls;
    setValue(td, text, value);
    return td;
  }

  function emptyRow(colspan) {
    const tr = document.createElement('tr');
    tr.className = 'empty';
    const td = document.createElement('td');
    td.colSpan = colspan;
    td.textContent = kDash;
    tr.appendChild(td);
    return tr;
  }

  // ---- state ------------------------------------------------------------------------

  const state = {
    intervalMs: intervalFromQuery(),
    prev: null,          // last sample with a usable time: {t, stats}
    rates: {},           // last computed rates, kept when a sample repeats
    rateSeries: [],      // [time, INVITEs/s]
    p50Series: [],       // [time, ms]
    p99Series: [],
    lastT: null,
    lastOkMs: performance.now(),
    lastError: null,
    okPolls: 0,
  };

  function intervalFromQuery() {
    const raw = new URLSearchParams(window.location.search).get('interval');
    const n = Number(raw);
    if (raw === null || raw === '' || !Number.isFinite(n)) return kDefaultIntervalMs;
    return Math.max(kMinIntervalMs, Math.round(n));
  }

  function failOpenTotal(counters) {
    const a = num(counters.local_503_timeout);
    const b = num(counters.local_503_no_upstream);
    if (a === null && b === null) return null;
    return (a || 0) + (b || 0);
  }

  function counterRate(cur, before, dt) {
    cur = num(cur);
    before = num(before);
    // A counter that went down means the daemon restarted: no rate across that.
    if (cur === null || before === null || !(dt > 0) || cur < before) return null;
    return (cur - before) / dt;
  }

  function pushPoint(series, t, v) {
    if (v === null) return;
    series.push([t, v]);
  }

  function prune(series, tNow) {
    const cut = tNow - kWindowS;
    let i = 0;
    while (i < series.length && series[i][0] < cut) i++;
    if (i > 0) series.splice(0, i);
  }

  // ---- rendering --------------------------------------------------------------------

  function render(stats) {
    const tJson = num(stats.time);
    // Without the daemon's time, the receipt time is the best there is.
    const t = tJson !== null ? tJson : Date.now() / 1000;
    let base = state.prev;
    const repeated = base !== null && t === base.t;
    if (base !== null && t < base.t) {
      // The daemon's clock went back (restart or clock step): start the charts afresh.
      state.rateSeries.length = 0;
      state.p50Series.length = 0;
      state.p99Series.length = 0;
      base = null;
    }
    if (base !== null && num(stats.uptime_s) !== null && num(base.stats.uptime_s) !== null &&
        stats.uptime_s < base.stats.uptime_s) {
      base = null;
    }

    const counters = plainObject(stats.counters);
    if (!repeated) {
      const dt = base ? t - base.t : 0;
      const pc = base ? plainObject(base.stats.counters) : {};
      state.rates = {
        call: counterRate(counters.invites_in, pc.invites_in, dt),
        acl: counterRate(counters.acl_denied, pc.acl_denied, dt),
        failOpen: counterRate(failOpenTotal(counters), failOpenTotal(pc), dt),
        codes: {},
      };
      const to = plainObject(dig(stats, 'responses', 'to_switch'));
      const pto = base ? plainObject(dig(base.stats, 'responses', 'to_switch')) : {};
      for (const code of Object.keys(to)) state.rates.codes[code] = counterRate(to[code], pto[code], dt);

      pushPoint(state.rateSeries, t, state.rates.call);
      const rtt = plainObject(dig(stats, 'latency', 'service_rtt'));
      pushPoint(state.p50Series, t, usToMs(rtt.p50_us));
      pushPoint(state.p99Series, t, usToMs(rtt.p99_us));
      prune(state.rateSeries, t);
      prune(state.p50Series, t);
      prune(state.p99Series, t);
      state.prev = { t: t, stats: stats };
    }
    state.lastT = t;

    renderHeader(stats, tJson);
    renderCounters(counters);
    renderResponses(stats);
    renderLatency(stats);
    renderUpstream(stats);
    renderAlarms(stats);
    drawCharts();
  }

  function renderHeader(stats, tJson) {
    setField('mode', str(stats.mode), typeof stats.mode === 'string' ? stats.mode : null);
    setField('version', str(stats.version), typeof stats.version === 'string' ? stats.version : null);
    setField('uptime', fmtDuration(stats.uptime_s), num(stats.uptime_s));
    setField('sample-time', fmtClock(tJson), tJson);
  }

  function renderCounters(counters) {
    const r = state.rates;
    setField('call-rate', fmtRate(r.call), r.call);
    setField('invites-total', fmtInt(counters.invites_in), num(counters.invites_in));
    setField('acl-denied-rate', fmtRate(r.acl), r.acl);
    setField('acl-denied-total', fmtInt(counters.acl_denied), num(counters.acl_denied));
    const fo = failOpenTotal(counters);
    setField('fail-open-rate', fmtRate(r.failOpen), r.failOpen);
    setField('fail-open-total', fmtInt(fo), fo);
    setField('fail-open-timeout-total', fmtInt(counters.local_503_timeout),
             num(counters.local_503_timeout));
    setField('fail-open-no-upstream-total', fmtInt(counters.local_503_no_upstream),
             num(counters.local_503_no_upstream));
  }

  function renderResponses(stats) {
    const tbody = document.getElementById('responses');
    const to = plainObject(dig(stats, 'responses', 'to_switch'));
    const from = plainObject(dig(stats, 'responses', 'from_service'));
    const codes = new Set();
    for (const k of Object.keys(to).concat(Object.keys(from))) {
      if (/^[1-6][0-9][0-9]$/.test(k)) codes.add(k);
    }
    const sorted = Array.from(codes).sort((a, b) => Number(a) - Number(b));
    // Share is of final answers only: every INVITE also gets a 100 Trying, which would
    // otherwise halve every other share.
    let finals = 0;
    for (const k of sorted) {
      if (Number(k) >= 200 && num(to[k]) !== null) finals += to[k];
    }
    const rows = [];
    for (const code of sorted) {
      const count = num(to[code]);
      const isFinal = Number(code) >= 200;
      const share = isFinal && count !== null && finals > 0 ? (count / finals) * 100 : null;
      const rate = state.rates.codes ? num(state.rates.codes[code]) : null;
      const tr = document.createElement('tr');
      tr.setAttribute('data-code', code);
      tr.setAttribute('data-class', code[0]);
      tr.appendChild(cell(code, null, null, 'code'));
      tr.appendChild(cell(kCodeMeaning[code] || '', null, null, 'reason'));
      tr.appendChild(cell(fmtInt(count), 'resp-' + code + '-count', count));
      tr.appendChild(cell(fmtPercent(share), 'resp-' + code + '-share', share));
      tr.appendChild(cell(fmtRate(rate), 'resp-' + code + '-rate', rate));
      tr.appendChild(cell(fmtInt(from[code]), 'resp-' + code + '-from-service', num(from[code])));
      const barCell = document.createElement('td');
      barCell.className = 'bar-col';
      if (share !== null) {
        const bar = document.createElement('span');
        bar.className = 'bar';
        bar.style.width = share.toFixed(1) + '%';
        barCell.appendChild(bar);
      }
      tr.appendChild(barCell);
      rows.push(tr);
    }
    if (rows.length === 0) rows.push(emptyRow(7));
    tbody.replaceChildren(...rows);
    setField('responses-finals', fmtInt(finals), finals);
  }

  function renderLatency(stats) {
    const rtt = plainObject(dig(stats, 'latency', 'service_rtt'));
    const local = plainObject(dig(stats, 'latency', 'local'));
    for (const [name, key] of [['rtt-p50', 'p50_us'], ['rtt-p90', 'p90_us'],
                               ['rtt-p99', 'p99_us'], ['rtt-p999', 'p999_us']]) {
      const ms = usToMs(rtt[key]);
      setField(name, fmtMs(ms), ms);
    }
    const localMs = usToMs(local.p99_us);
    setField('local-p99', fmtMs(localMs), localMs);
  }

  function renderUpstream(stats) {
    const tbody = document.getElementById('upstream');
    const list = Array.isArray(stats.upstream) ? stats.upstream : null;
    if (list === null) {
      tbody.replaceChildren(emptyRow(7));
      setField('upstream-count', kDash, null);
      return;
    }
    const rows = [];
    let up = 0;
    list.forEach((raw, i) => {
      const s = plainObject(raw);
      if (s.state === 'up') up++;
      const tr = document.createElement('tr');
      tr.setAttribute('data-upstream', String(i));
      const p = 'upstream-' + i + '-';
      tr.appendChild(cell(str(s.target), p + 'target', null));
      tr.appendChild(cell(str(s.worker), p + 'worker', num(s.worker)));
      tr.appendChild(cell(str(s.conn), p + 'conn', num(s.conn)));
      const stateName = str(s.state);
      tr.appendChild(cell(stateName, p + 'state', null,
                          s.state === 'up' ? 'state-up' : (typeof s.state === 'string' ? 'state-down' : '')));
      tr.appendChild(cell(fmtDuration(s.since_s), p + 'since', num(s.since_s)));
      tr.appendChild(cell(str(s.tls_version), p + 'tls', null));
      tr.appendChild(cell(str(s.cipher), p + 'cipher', null));
      rows.push(tr);
    });
    if (rows.length === 0) rows.push(emptyRow(7));
    tbody.replaceChildren(...rows);
    setField('upstream-count', list.length + ' sessions, ' + up + ' up', up);
  }

  function renderAlarms(stats) {
    const ul = document.getElementById('alarms');
    const list = Array.isArray(stats.alarms) ? stats.alarms.map(plainObject) : null;
    if (list === null) {
      const li = document.createElement('li');
      li.className = 'empty';
      li.textContent = kDash;
      ul.replaceChildren(li);
      setField('alarms-active', kDash, null);
      return;
    }
    // Active alarms first: they are what the operator must see without scrolling.
    const sorted = list.slice().sort((a, b) =>
      (b.active === true) - (a.active === true) || str(a.name).localeCompare(str(b.name)));
    const items = sorted.map((a) => {
      const active = a.active === true;
      const li = document.createElement('li');
      li.setAttribute('data-alarm', str(a.name));
      li.setAttribute('data-active', String(active));
      if (active) li.className = 'active';
      const flag = document.createElement('span');
      flag.className = 'flag';
      flag.textContent = active ? 'ACTIVE' : 'clear';
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = str(a.name);
      const detail = document.createElement('span');
      detail.className = 'detail';
      detail.textContent = typeof a.detail === 'string' ? a.detail : '';
      li.append(flag, name, detail);
      return li;
    });
    if (items.length === 0) {
      const li = document.createElement('li');
      li.className = 'empty';
      li.textContent = 'no alarms defined';
      items.push(li);
    }
    ul.replaceChildren(...items);
    const activeCount = list.filter((a) => a.active === true).length;
    setField('alarms-active', activeCount === 0 ? 'none' : activeCount + ' active', activeCount);
    field('alarms-active').classList.toggle('alarm', activeCount > 0);
  }

  // ---- charts -----------------------------------------------------------------------

  function niceCeil(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) {
      if (m * p >= v) return m * p;
    }
    return 10 * p;
  }

  function svgNode(name, attrs, text) {
    const n = document.createElementNS(kSvgNs, name);
    for (const k of Object.keys(attrs)) n.setAttribute(k, String(attrs[k]));
    if (text !== undefined) n.textContent = text;
    return n;
  }

  // Draws each series over the last kWindowS seconds of daemon time, ending at tNow.
  // The viewBox follows the element's pixel size so text and lines are not stretched.
  function drawChart(svg, series, tNow) {
    const w = Math.max(200, Math.round(svg.clientWidth || 640));
    const h = Math.max(80, Math.round(svg.clientHeight || 140));
    const left = 48, right = 10, top = 8, bottom = 20;
    const plotW = w - left - right, plotH = h - top - bottom;
    svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    const t0 = tNow - kWindowS;
    let vmax = 0, points = 0;
    for (const s of series) {
      for (const [t, v] of s.points) {
        if (t >= t0) { vmax = Math.max(vmax, v); points++; }
      }
    }
    const ymax = niceCeil(vmax * 1.05);
    const x = (t) => left + ((t - t0) / kWindowS) * plotW;
    const y = (v) => top + plotH - (v / ymax) * plotH;
    const nodes = [];
    for (const f of [0, 0.5, 1]) {
      const yy = y(ymax * f).toFixed(1);
      nodes.push(svgNode('line', { class: 'grid', x1: left, x2: w - right, y1: yy, y2: yy }));
      nodes.push(svgNode('text', { class: 'axis-label', x: left - 6, y: Number(yy) + 4,
                                   'text-anchor': 'end' }, fmtAxis(ymax * f)));
    }
    for (const [label, f, anchor] of [['-5m', 0, 'start'], ['-2.5m', 0.5, 'middle'], ['now', 1, 'end']]) {
      nodes.push(svgNode('text', { class: 'axis-label', x: (left + f * plotW).toFixed(1), y: h - 5,
                                   'text-anchor': anchor }, label));
    }
    if (points === 0) {
      nodes.push(svgNode('text', { class: 'nodata', x: left + plotW / 2, y: top + plotH / 2,
                                   'text-anchor': 'middle' }, 'no data yet'));
    }
    for (const s of series) {
      const pts = s.points.filter(([t]) => t >= t0);
      if (pts.length >= 2) {
        const d = pts.map(([t, v]) => x(t).toFixed(1) + ',' + y(v).toFixed(1)).join(' ');
        nodes.push(svgNode('polyline', { class: 'series ' + s.cls, points: d }));
      }
      if (pts.length >= 1) {
        const [t, v] = pts[pts.length - 1];
        nodes.push(svgNode('circle', { class: 'dot ' + s.cls, cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 3 }));
      }
    }
    svg.replaceChildren(...nodes);
    svg.setAttribute('data-points', String(points));
    svg.setAttribute('data-ymax', String(ymax));
  }

  function drawCharts() {
    const tNow = state.lastT;
    if (tNow === null) return;
    drawChart(document.getElementById('chart-call-rate'),
              [{ cls: 'rate', points: state.rateSeries }], tNow);
    drawChart(document.getElementById('chart-latency'),
              [{ cls: 'p50', points: state.p50Series }, { cls: 'p99', points: state.p99Series }], tNow);
  }

  // ---- polling ----------------------------------------------------------------------

  function updateStale() {
    const ageMs = performance.now() - state.lastOkMs;
    const stale = state.lastError !== null || ageMs > kStaleIntervals * state.intervalMs;
    const marker = field('stale');
    marker.hidden = !stale;
    marker.setAttribute('data-value', String(stale));
    document.body.setAttribute('data-stale', String(stale));
    let why = '';
    if (state.lastError !== null) why = 'poll failed: ' + state.lastError;
    else if (stale) why = state.okPolls === 0 ? 'no data yet' : 'no data for ' + fmtDuration(ageMs / 1000);
    marker.textContent = stale ? 'STALE \u2014 ' + why : 'STALE';
    setField('poll-status', stale ? why : (state.okPolls > 0 ? 'Last poll ok.' : ''), null);
  }

  async function pollOnce() {
    const abort = new AbortController();
    // A hung request must not stop the loop; by then the page already shows stale.
    const timer = setTimeout(() => abort.abort(), Math.max(kStaleIntervals * state.intervalMs, 1000));
    let stats = null;
    try {
      const res = await fetch(kStatsUrl, { cache: 'no-store', signal: abort.signal,
                                           headers: { Accept: 'application/json' } });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      stats = await res.json();
      if (stats === null || typeof stats !== 'object' || Array.isArray(stats)) {
        throw new Error('not a JSON object');
      }
    } catch (e) {
      state.lastError = e && e.name === 'AbortError' ? 'timed out' : String((e && e.message) || e);
      stats = null;
    } finally {
      clearTimeout(timer);
    }
    if (stats !== null) {
      try {
        render(stats);
        state.lastOkMs = performance.now();
        state.lastError = null;
        state.okPolls++;
      } catch (e) {
        // A bug of this page, not of the daemon: keep it visible in the console too.
        console.error(e);
        state.lastError = 'page error: ' + String((e && e.message) || e);
      }
    }
    updateStale();
  }

  // Fixed cadence, never two requests in flight: the next poll starts one interval
  // after the previous one started, or at once if that one took longer.
  async function loop() {
    const started = performance.now();
    await pollOnce();
    const wait = Math.max(0, state.intervalMs - (performance.now() - started));
    setTimeout(loop, wait);
  }

  setField('interval', state.intervalMs >= 1000 ? state.intervalMs / 1000 + ' s' : state.intervalMs + ' ms',
           state.intervalMs);
  setInterval(updateStale, Math.max(250, state.intervalMs / 2));
  window.addEventListener('resize', drawCharts);
  loop();
})();
