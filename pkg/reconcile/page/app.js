// The status page of `reconciler run`: polls /api/status and draws every
// model, its checks over time, experiments, shadows and recent events.
// Everything is built with DOM calls (never innerHTML): reasons and names
// come from Git and must not become markup.
'use strict';
(function () {
  const TOKEN = 'switchyard-token';
  const POLL_MS = 3000;
  const SVG = 'http://www.w3.org/2000/svg';
  const COLORS = ['--c0', '--c1', '--c2', '--c3', '--c4', '--c5'];

  // A link may carry the token as #token=...: keep it for this tab and
  // take it out of the address bar.
  const fromHash = /^#token=(.+)$/.exec(location.hash);
  if (fromHash) {
    sessionStorage.setItem(TOKEN, decodeURIComponent(fromHash[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }

  const $ = (id) => document.getElementById(id);

  function el(tag, props, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k === 'style') Object.assign(e.style, v);
      else e.setAttribute(k, v);
    }
    for (const c of kids.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function svg(tag, attrs, ...kids) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const c of kids) e.append(c);
    return e;
  }

  function num(v) {
    if (v === undefined || v === null || !isFinite(v)) return '–';
    if (v === 0) return '0';
    const a = Math.abs(v);
    if (a >= 1000) return Math.round(v).toLocaleString('en');
    return String(Number(v.toPrecision(3)));
  }
  const pct = (v) => num(v) + '%';
  const short = (sha) => (sha || '').slice(0, 8);

  function ago(now, t) {
    if (!t || t.startsWith('0001')) return 'never';
    const s = Math.max(0, Math.round((Date.parse(now) - Date.parse(t)) / 1000));
    if (s < 60) return s + 's ago';
    if (s < 3600) return Math.round(s / 60) + 'm ago';
    return Math.round(s / 3600) + 'h ago';
  }

  function clock(t) {
    const d = new Date(t);
    return isNaN(d) ? '' : d.toISOString().slice(11, 19) + 'Z';
  }

  function color(i) {
    return getComputedStyle(document.documentElement).getPropertyValue(COLORS[i % COLORS.length]).trim() || '#2f6fdb';
  }

  // The split: a bar of each version's share, and a legend.
  function split(weights) {
    const bar = el('div', { class: 'split', role: 'img', 'aria-label': 'traffic split' });
    const legend = el('div', { class: 'legend' });
    (weights || []).forEach((w, i) => {
      const c = color(i);
      if (w.percent > 0) bar.append(el('div', { title: w.version + ' ' + pct(w.percent), style: { width: w.percent + '%', background: c } }));
      legend.append(el('span', { class: 'weight', 'data-version': w.version },
        el('i', { style: { background: c } }), w.version + ' ' + pct(w.percent)));
    });
    return [bar, legend];
  }

  function thresholds(m) {
    const parts = [];
    if (m.max !== undefined) parts.push('max ' + num(m.max));
    if (m.min !== undefined) parts.push('min ' + num(m.min));
    if (m.max_ratio !== undefined) parts.push('max ' + num(m.max_ratio) + '× baseline');
    if (m.min_ratio !== undefined) parts.push('min ' + num(m.min_ratio) + '× baseline');
    return parts.join(', ');
  }

  // A check's recent measurements against its thresholds.
  function chart(m) {
    const pts = m.history || [];
    const W = 480, H = 84, PAD = 4;
    const box = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img',
      'aria-label': `${m.check}: last ${pts.length} measurements` });
    box.append(svg('line', { class: 'axis', x1: 0, y1: H - PAD, x2: W, y2: H - PAD }));
    if (pts.length === 0) {
      box.append(svg('text', { x: 6, y: H / 2 }, document.createTextNode('no measurements yet')));
      return box;
    }
    const limitAt = (p) => (m.max_ratio !== undefined && p.baseline ? p.baseline * m.max_ratio : undefined);
    let top = 0;
    for (const p of pts) top = Math.max(top, p.value, p.baseline || 0, limitAt(p) || 0);
    if (m.max !== undefined) top = Math.max(top, m.max);
    if (m.min !== undefined) top = Math.max(top, m.min);
    top = top > 0 ? top * 1.15 : 1;
    const t0 = Date.parse(pts[0].at), t1 = Date.parse(pts[pts.length - 1].at);
    const x = (p, i) => (t1 > t0 ? ((Date.parse(p.at) - t0) / (t1 - t0)) : (pts.length > 1 ? i / (pts.length - 1) : 0.5)) * (W - 2 * PAD) + PAD;
    const y = (v) => H - PAD - (v / top) * (H - 2 * PAD);
    const line = (cls, f) => {
      const coords = [];
      pts.forEach((p, i) => {
        const v = f(p);
        if (v === undefined) return;
        // A lone point is drawn as a short level stroke, not nothing.
        const xs = pts.length === 1 ? [x(p, i) - 8, x(p, i) + 8] : [x(p, i)];
        for (const xi of xs) coords.push(xi.toFixed(1) + ',' + y(v).toFixed(1));
      });
      if (coords.length) box.append(svg('polyline', { class: cls, points: coords.join(' ') }));
    };
    for (const lim of [m.max, m.min]) {
      if (lim !== undefined) box.append(svg('line', { class: 'limit', x1: 0, x2: W, y1: y(lim), y2: y(lim) }));
    }
    if (m.max_ratio !== undefined) line('limit', limitAt);
    if (pts.some((p) => p.baseline)) line('baseline', (p) => p.baseline || undefined);
    line('values', (p) => p.value);
    pts.forEach((p, i) => {
      const c = svg('circle', { class: 'pt-' + p.verdict, cx: x(p, i), cy: y(p.value), r: p.verdict === 'pass' ? 1.6 : 2.6 });
      c.append(svg('title', {}, document.createTextNode(`${clock(p.at)} ${p.version || ''}: ${num(p.value)}` +
        (p.baseline ? ` (baseline ${num(p.baseline)})` : '') + ` · ${p.requests} requests · ${p.verdict}`)));
      box.append(c);
    });
    box.append(svg('text', { x: 4, y: 10 }, document.createTextNode(num(top / 1.15))));
    return box;
  }

  // The measurements a chart shows: how many, from when to when.
  function span(pts) {
    const n = pts.length === 1 ? '1 measurement' : pts.length + ' measurements';
    const a = clock(pts[0].at), b = clock(pts[pts.length - 1].at);
    return n + (a === b ? ' at ' + a : ' · ' + a + ' – ' + b);
  }

  function check(m) {
    const last = (m.history || []).length ? m.history[m.history.length - 1] : null;
    return el('div', { class: 'check', 'data-check': m.check },
      el('div', { class: 'check-head' },
        el('span', { class: 'check-name', text: m.check }),
        m.metric && el('span', { class: 'muted mono', text: m.metric }),
        el('span', { class: 'badge v-' + m.verdict, text: m.verdict.replace('_', ' ') }),
        last && el('span', {}, num(m.value), m.baseline ? el('span', { class: 'muted', text: ' vs ' + num(m.baseline) }) : null),
        el('span', { class: 'muted', text: thresholds(m) })),
      chart(m),
      el('div', { class: 'key' },
        el('span', { class: 'k-values', text: '— value' }),
        (m.history || []).some((p) => p.baseline) && el('span', { class: 'k-baseline', text: '-- baseline' }),
        thresholds(m) && el('span', { class: 'k-limit', text: '·· threshold' }),
        (m.history || []).length > 0 && el('span', { class: 'k-span', text: span(m.history) })),
      m.reason && el('div', { class: 'reason', text: m.reason }));
  }

  function experiment(ex) {
    const bandit = ex.method === 'bandit';
    const rows = ex.arms.map((a) => el('tr', { 'data-arm': a.version },
      el('td', { text: a.version + (ex.winner === a.version ? ' ★' : '') }),
      el('td', { class: 'num', text: pct(a.weight) }),
      el('td', { class: 'num', text: num(a.samples) }),
      el('td', { class: 'num', text: num(a.mean) }),
      bandit && el('td', { class: 'num' }, el('span', { class: 'bar', style: { width: (a.prob_best || 0) * 60 + 'px' } }), ' ' + pct((a.prob_best || 0) * 100))));
    return el('div', { class: 'experiment' },
      el('h3', { text: (bandit ? 'Bandit' : 'A/B test') + (ex.decided ? ' · decided' + (ex.winner ? ': ' + ex.winner : ': no winner') : '') }),
      el('div', { class: 'table-wrap' }, el('table', {},
        el('thead', {}, el('tr', {}, el('th', { text: 'arm' }), el('th', { class: 'num', text: 'traffic' }),
          el('th', { class: 'num', text: 'samples' }), el('th', { class: 'num', text: 'mean' }),
          bandit && el('th', { class: 'num', text: 'P(best)' }))),
        el('tbody', {}, rows))),
      !bandit && el('div', { class: 'line muted', text: 'p-value ' + (ex.p_value ? num(ex.p_value) : '–') + ' (always valid)' }));
  }

  function shadow(sh) {
    const verdict = sh.decided ? (sh.passed ? 'passed' : 'failed') : 'assessing';
    return el('div', { class: 'shadow' },
      el('h3', { text: 'Shadow ' + sh.version }),
      el('div', { class: 'line' },
        el('span', { class: 'badge ' + (sh.decided ? (sh.passed ? 'v-pass' : 'v-fail') : 'v-no_data'), text: verdict }), ' ',
        el('strong', { text: pct(sh.agreement * 100) }), ' agreement over ', num(sh.pairs), ' pairs',
        sh.upper ? el('span', { class: 'muted', text: ` (${pct(sh.lower * 100)} – ${pct(sh.upper * 100)})` }) : null,
        sh.errors ? el('span', { class: 'error', text: ` · ${num(sh.errors)} shadow errors` }) : null));
  }

  function model(m, events) {
    const rolling = m.from && m.to && m.from !== m.to;
    const last = (events || []).find((ev) => ev.model === m.model && ev.stage === m.stage);
    return el('section', { class: 'card model', 'data-model': m.model + '/' + m.stage },
      el('div', { class: 'card-head' },
        el('span', { class: 'model-name', text: m.model + '/' + m.stage }),
        el('span', { class: 'badge phase phase-' + m.phase, text: m.phase || 'unknown' }),
        m.held && el('span', { class: 'badge v-fail', text: 'held' })),
      el('div', { class: 'line muted' }, 'serve ', el('code', { text: m.serve }), ' · router ', el('code', { text: m.router }),
        m.last_commit && [' · last outcome commit ', el('code', { class: 'commit', title: m.last_commit, text: short(m.last_commit) })]),
      rolling && el('div', { class: 'line rollout' }, el('strong', { text: m.from + ' → ' + m.to }),
        m.strategy && ' · ' + m.strategy, m.steps ? ` · step ${m.step} of ${m.steps}` : ''),
      rolling && el('div', { class: 'progress', title: pct(m.progress * 100) }, el('div', { style: { width: m.progress * 100 + '%' } })),
      split(m.weights),
      m.message && el('div', { class: 'line muted', text: m.message }),
      m.error && el('div', { class: 'line error', text: m.error }),
      last && el('div', { class: 'line last-event', 'data-last-event': last.event }, el('span', { class: 'muted', text: 'last event ' }),
        el('span', { class: 'badge ev-' + last.event, text: last.event.replace('_', ' ') }), ' ',
        el('span', { class: 'muted mono', text: clock(last.at) }),
        last.from && last.to && last.from !== last.to ? ` ${last.from} → ${last.to}` : '',
        last.commit ? [' ', el('code', { class: 'commit', title: last.commit, text: short(last.commit) })] : ''),
      (m.measurements || []).length > 0 && el('h3', { text: 'Checks' }),
      (m.measurements || []).map(check),
      m.experiment && experiment(m.experiment),
      m.shadow && shadow(m.shadow));
  }

  function alerts(st) {
    const out = [];
    if (st.fetch_error) out.push(el('div', { class: 'alert' }, el('strong', { text: 'Fetch failing: ' }), st.fetch_error));
    if (st.head_error) {
      out.push(el('div', { class: 'alert' }, el('strong', { text: 'Head rejected: ' }), st.head_error,
        el('ul', {}, (st.head_diagnostics || []).map((d) => el('li', {}, el('code', { text: `${d.file}:${d.line}` }), ` ${d.severity}: ${d.summary}`)))));
    }
    const own = st.own_commit_rejected;
    if (own) {
      out.push(el('div', { class: 'alert', 'data-own-commit': own.commit },
        el('strong', { text: `The reconciler's own ${own.action} commit is rejected (a bug): ` }),
        'Git names what it wrote while traffic stays as it was; fix the spec by hand and report it. ',
        el('code', { text: own.reason })));
    }
    for (const p of st.pending_commits || []) {
      out.push(el('div', { class: 'alert warn' }, el('strong', { text: `Commit pending for ${p.model} (${p.action}): ` }),
        `${p.attempts} attempts; traffic is already restored. Last error: ${p.last_error}`));
    }
    for (const p of st.pending_pull_requests || []) {
      out.push(el('div', { class: 'alert warn', 'data-pull-request': p.url },
        el('strong', { text: `Pull request not merged for ${p.model} (${p.action}): ` }),
        el('a', { href: p.url, text: p.url }),
        p.opened ? `, opened ${ago(st.now, p.opened)}` : '',
        '. Traffic is already where it puts it; Git disagrees until it is merged.'));
    }
    return out;
  }

  function event(ev) {
    const who = ev.model ? ev.model + '/' + ev.stage : '';
    return el('li', { class: 'event', 'data-event': ev.event },
      el('span', { class: 'muted mono', text: clock(ev.at) }), ' ',
      el('span', { class: 'badge ev-' + ev.event, text: ev.event.replace('_', ' ') }), ' ',
      who && el('strong', { text: who }), ' ',
      ev.from && ev.to && ev.from !== ev.to ? `${ev.from} → ${ev.to} ` : '',
      ev.commit && el('code', { class: 'commit', title: ev.commit, text: short(ev.commit) }),
      ev.reason && el('div', { class: 'reason', text: ev.reason }));
  }

  function render(st) {
    const s = $('summary');
    s.className = 'summary';
    s.replaceChildren(...[
      'head ', el('code', { text: short(st.head) }),
      st.head !== st.applied ? [' (running ', el('code', { text: short(st.applied) }), ')'] : '',
      ' · fetched ' + ago(st.now, st.last_fetch),
      st.role ? ` · ${st.role}${st.leader ? ' (leader ' + st.leader + ')' : ''}` : ''].flat());
    $('alerts').replaceChildren(...alerts(st));
    const models = st.models || [];
    $('models').replaceChildren(...(models.length ? models.map((m) => model(m, st.events))
      : [el('div', { class: 'card muted', text: 'No models yet: the reconciler has not applied a commit.' })]));
    const evs = st.events || [];
    $('events-section').hidden = evs.length === 0;
    $('events').replaceChildren(...evs.map(event));
    $('footer').textContent = 'updated ' + clock(st.now) + ' · every ' + POLL_MS / 1000 + 's';
  }

  let timer = null;
  function schedule() { clearTimeout(timer); timer = setTimeout(poll, POLL_MS); }

  function askToken(msg) {
    clearTimeout(timer);
    $('login').hidden = false;
    $('login-error').textContent = msg || '';
    $('summary').textContent = 'token needed';
    $('token').focus();
  }

  async function poll() {
    const token = sessionStorage.getItem(TOKEN);
    try {
      const resp = await fetch('/api/status', { cache: 'no-store', headers: token ? { Authorization: 'Bearer ' + token } : {} });
      if (resp.status === 401) {
        askToken(token ? 'That token was refused.' : '');
        return;
      }
      if (!resp.ok) throw new Error('/api/status answered ' + resp.status);
      $('login').hidden = true;
      render(await resp.json());
    } catch (err) {
      const s = $('summary');
      s.className = 'summary stale';
      s.textContent = 'cannot reach the reconciler: ' + err.message + ' (retrying)';
    }
    schedule();
  }

  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN, $('token').value.trim());
    $('token').value = '';
    poll();
  });
  poll();
})();
