// waihu's dashboard: live calls with a transcript ticker from /ws/events,
// the 12 KPIs (snapshots on the socket, GET /api/v1/kpis between them),
// campaign controls, an hourly chart of answer and conversion rate, contact
// segments and the answer-rate forecast. Plain JavaScript with no build step:
// the Go binary embeds this file as it is (web/embed.go).
//
// The API token is kept in sessionStorage (gone when the tab closes) and
// sent as a Bearer header; the WebSocket, which cannot carry headers from a
// browser, takes it as ?access_token=. Phone numbers are shown exactly as
// the API returns them: masked unless the token's role may see them.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = 'waihu.token';
  const LANG_KEY = 'waihu.lang';

  const I18N = {
    en: {
      title: 'waihu dashboard', token: 'API token', connect: 'Connect', logout: 'Log out', softphone: 'Softphone',
      kpis: 'Key figures', live_calls: 'Live calls', ticker: 'Transcript ticker', campaigns: 'Campaigns',
      call: 'Call', campaign: 'Campaign', phone: 'Phone', state: 'State', last_words: 'Last words',
      name: 'Name', contacts: 'Contacts', finished: 'Finished', placed: 'Calls placed', in_flight: 'In calls', queued: 'Queued',
      start: 'Start', pause: 'Pause', stop: 'Stop', hangup: 'Hang up',
      chart: 'Answer and conversion rate per hour (last 24 h)', segments: 'Contact segments', forecast: 'Answer-rate forecast, next week',
      no_data: 'No data yet', unavailable: 'Not available on this server', offline: 'offline', live: 'live', connecting: 'connecting',
      need_token: 'Enter an API token (the first start writes the admin token to DATA/admin-token).',
      bad_token: 'The server refused this token.', last_24h: 'last 24 h',
      answer_seizure_ratio: 'Answer-seizure ratio', human_contact_rate: 'Human-contact rate',
      network_effectiveness_ratio: 'Network effectiveness ratio', right_party_contact_rate: 'Right-party contact rate',
      conversion_rate: 'Conversion rate', average_call_duration: 'Average call duration', average_handle_time: 'Average handle time',
      abandon_rate: 'Abandon rate', transfer: 'Transfers', transfer_rate: 'rate', transfer_success_rate: 'success',
      penetration: 'List penetration', list_penetration: 'penetration', attempts_per_lead: 'attempts per lead',
      opt_out_rate: 'Opt-out rate', latency: 'Bot first response', first_response_latency_p50: 'p50',
      first_response_latency_p95: 'p95', time_to_greeting_p50: 'greeting p50', time_to_greeting_p95: 'greeting p95',
      segment: 'Segment', size: 'Size', converted: 'Converted', hour: 'Hour', day: 'Day',
      dialing: 'dialling', ringing: 'ringing', answered: 'answered', caller_said: 'caller', bot_said: 'bot', intent: 'intent',
      emotion: 'emotion', dtmf: 'key', transferred: 'transferred', ended: 'ended',
      draft: 'draft', running: 'running', paused: 'paused', stopped: 'stopped', completed: 'completed',
    },
    'zh-CN': {
      title: 'waihu 外呼看板', token: 'API 令牌', connect: '连接', logout: '退出', softphone: '软电话',
      kpis: '关键指标', live_calls: '实时通话', ticker: '实时对话', campaigns: '外呼任务',
      call: '通话', campaign: '任务', phone: '号码', state: '状态', last_words: '最新对话',
      name: '名称', contacts: '名单', finished: '已完成', placed: '已拨打', in_flight: '通话中', queued: '排队',
      start: '开始', pause: '暂停', stop: '停止', hangup: '挂断',
      chart: '每小时接通率与转化率（近 24 小时）', segments: '客户分群', forecast: '下周接通率预测',
      no_data: '暂无数据', unavailable: '此服务器未提供', offline: '离线', live: '实时', connecting: '连接中',
      need_token: '请输入 API 令牌（首次启动时管理员令牌写在 DATA/admin-token）。',
      bad_token: '服务器拒绝了此令牌。', last_24h: '近 24 小时',
      answer_seizure_ratio: '接通率', human_contact_rate: '人工接听率', network_effectiveness_ratio: '网络有效率',
      right_party_contact_rate: '本人接听率', conversion_rate: '转化率', average_call_duration: '平均通话时长',
      average_handle_time: '平均处理时长', abandon_rate: '放弃率', transfer: '转人工', transfer_rate: '转接率',
      transfer_success_rate: '成功率', penetration: '名单渗透率', list_penetration: '渗透率', attempts_per_lead: '每名单拨打次数',
      opt_out_rate: '拒绝再呼率', latency: '机器人首次响应', first_response_latency_p50: 'p50', first_response_latency_p95: 'p95',
      time_to_greeting_p50: '开场 p50', time_to_greeting_p95: '开场 p95',
      segment: '分群', size: '人数', converted: '转化', hour: '小时', day: '日期',
      dialing: '拨号中', ringing: '振铃', answered: '已接通', caller_said: '客户', bot_said: '机器人', intent: '意图',
      emotion: '情绪', dtmf: '按键', transferred: '已转接', ended: '已结束',
      draft: '草稿', running: '进行中', paused: '已暂停', stopped: '已停止', completed: '已完成',
    },
  };

  // The twelve KPI cards of docs/kpis.md; a card with several figures
  // shows the first large and the rest beneath it.
  const CARDS = [
    ['answer_seizure_ratio', ['answer_seizure_ratio']],
    ['human_contact_rate', ['human_contact_rate']],
    ['network_effectiveness_ratio', ['network_effectiveness_ratio']],
    ['right_party_contact_rate', ['right_party_contact_rate']],
    ['conversion_rate', ['conversion_rate']],
    ['average_call_duration', ['average_call_duration']],
    ['average_handle_time', ['average_handle_time']],
    ['abandon_rate', ['abandon_rate']],
    ['transfer', ['transfer_rate', 'transfer_success_rate']],
    ['penetration', ['list_penetration', 'attempts_per_lead']],
    ['opt_out_rate', ['opt_out_rate']],
    ['latency', ['first_response_latency_p50', 'first_response_latency_p95', 'time_to_greeting_p50', 'time_to_greeting_p95']],
  ];

  const MAX_TICKER = 200;

  // state is window.waihuDashboard, so tests and curious users can see
  // what the page holds.
  const state = {
    lang: 'en', token: '', connected: false, socket: null, retry: 0,
    kpis: null, kpiUpdates: 0, campaigns: [], calls: new Map(), events: [], lastWords: new Map(), placed: new Map(),
    timers: [],
  };
  window.waihuDashboard = state;

  const t = (key) => (I18N[state.lang] && I18N[state.lang][key]) || I18N.en[key] || key;

  function applyLang() {
    document.documentElement.lang = state.lang;
    document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
    $('lang').textContent = state.lang === 'en' ? '中文' : 'English';
    document.title = t('title');
    setConn(state.connected ? 'live' : (state.socket ? 'connecting' : 'offline'));
    renderKPIs();
    renderCampaigns();
    renderCalls();
    renderTicker();
  }

  function setError(msg) { $('error').textContent = msg || ''; }

  function setConn(s) {
    const el = $('conn');
    el.dataset.state = s;
    el.className = s === 'live' ? 'live' : '';
    el.textContent = t(s);
  }

  // api calls the REST API with the token; a 401 forgets the token.
  async function api(method, path, body) {
    const opts = { method, headers: { Authorization: `Bearer ${state.token}` } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path, opts);
    if (res.status === 401) {
      setError(t('bad_token'));
      logout();
      throw new Error('unauthenticated');
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = { error: text }; }
    if (!res.ok) {
      const err = new Error((data && (data.error || data.message)) || `${res.status}`);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  // ---- formatting ----

  function fmtValue(v) {
    if (!v || v.value === null || v.value === undefined) return '—';
    switch (v.unit) {
      case 'ratio': return `${(100 * v.value).toFixed(1)}%`;
      case 's': return `${v.value.toFixed(1)} s`;
      case 'ms': return `${Math.round(v.value)} ms`;
      default: return v.value.toFixed(2);
    }
  }

  function fmtDetail(v) {
    if (!v || !v.denominator) return '';
    if (v.unit === 'ratio') return `${v.numerator} / ${v.denominator}`;
    if (v.unit === 'ms') return `n = ${v.denominator}`;
    return `${v.denominator}`;
  }

  function clock(ts) {
    const d = ts ? new Date(ts) : new Date();
    return d.toLocaleTimeString(state.lang === 'en' ? 'en-GB' : 'zh-CN', { hour12: false });
  }

  function shortID(id) { return id && id.length > 10 ? `${id.slice(0, 8)}…` : (id || ''); }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c === undefined || c === null ? '' : String(c)));
    return e;
  }

  // ---- KPIs ----

  function renderKPIs() {
    const box = $('kpis');
    box.replaceChildren();
    const k = state.kpis && state.kpis.total ? state.kpis.total.kpis : {};
    for (const [id, names] of CARDS) {
      const card = el('div', { class: 'kpi', 'data-kpi': id });
      card.append(el('div', { class: 'label' }, t(id)));
      const main = k[names[0]];
      card.append(el('div', { class: 'value', 'data-name': names[0], 'data-value': main && main.value !== null && main.value !== undefined ? main.value : '' }, fmtValue(main)));
      if (names.length === 1) {
        card.append(el('div', { class: 'detail' }, fmtDetail(main)));
      } else {
        for (const n of names) {
          card.append(el('div', { class: 'detail', 'data-name': n }, `${t(n)}: ${fmtValue(k[n])}${fmtDetail(k[n]) ? ` (${fmtDetail(k[n])})` : ''}`));
        }
      }
      box.append(card);
    }
    const calls = state.kpis && state.kpis.total ? state.kpis.total.calls : 0;
    $('kpi-range').textContent = state.kpis ? `${t('last_24h')} · ${calls}` : '';
  }

  function setKPIs(report) {
    if (!report || !report.total) return;
    state.kpis = report;
    state.kpiUpdates++;
    renderKPIs();
  }

  async function loadKPIs() {
    try {
      setKPIs(await api('GET', '/api/v1/kpis?span=24h'));
    } catch (e) {
      if (e.status === 503) $('kpi-range').textContent = t('unavailable');
    }
  }

  // ---- campaigns ----

  function finished(c) {
    const n = c.contacts || {};
    return (n.done || 0) + (n.exhausted || 0) + (n.skipped || 0) + (n.interrupted || 0);
  }

  function renderCampaigns() {
    const body = $('campaigns');
    body.replaceChildren();
    for (const c of state.campaigns) {
      const live = c.live || {};
      // A Runner's count ends with it: keep the last figure this page saw,
      // so a completed campaign does not read as never dialled.
      const placed = Math.max(live.dialled || 0, state.placed.get(c.id) || 0);
      state.placed.set(c.id, placed);
      const row = el('tr', { 'data-campaign': c.id, 'data-state': c.state },
        el('td', {}, c.id), el('td', {}, c.name), el('td', { class: 'state' }, t(c.state)),
        el('td', {}, c.contacts_total), el('td', { class: 'finished' }, finished(c)),
        el('td', { class: 'placed' }, placed), el('td', { class: 'in-flight' }, live.in_flight || 0),
        el('td', { class: 'queued' }, live.queue_depth || 0));
      const actions = el('td');
      for (const action of ['start', 'pause', 'stop']) {
        const b = el('button', { type: 'button', 'data-action': action, 'data-id': c.id }, t(action));
        const final = c.state === 'stopped' || c.state === 'completed';
        b.disabled = final || (action === 'start' && c.state === 'running') || (action === 'pause' && c.state !== 'running');
        b.addEventListener('click', () => campaignAction(c.id, action));
        actions.append(b);
      }
      row.append(actions);
      body.append(row);
    }
  }

  async function loadCampaigns() {
    try {
      const data = await api('GET', '/api/v1/campaigns');
      state.campaigns = data.items || [];
      renderCampaigns();
    } catch (e) {
      if (e.message !== 'unauthenticated') setError(e.message);
    }
  }

  async function campaignAction(id, action) {
    setError('');
    try {
      const c = await api('POST', `/api/v1/campaigns/${id}/${action}`);
      state.campaigns = state.campaigns.map((x) => (x.id === c.id ? c : x));
      renderCampaigns();
      loadSegments();
    } catch (e) {
      setError(`${t(action)} #${id}: ${e.message}`);
    }
  }

  // ---- live calls and the ticker ----

  function renderCalls() {
    const body = $('calls');
    body.replaceChildren();
    for (const c of state.calls.values()) {
      const b = el('button', { type: 'button', 'data-action': 'hangup', 'data-id': c.id }, t('hangup'));
      b.addEventListener('click', () => api('POST', `/api/v1/calls/${encodeURIComponent(c.id)}/hangup`).catch((e) => setError(e.message)));
      body.append(el('tr', { 'data-call': c.id, 'data-state': c.state },
        el('td', { title: c.id }, shortID(c.id)), el('td', {}, c.campaign_id || ''), el('td', {}, c.phone || ''),
        el('td', {}, t(c.state)), el('td', { class: 'text' }, state.lastWords.get(c.id) || ''), el('td', {}, b)));
    }
  }

  async function loadCalls() {
    try {
      const data = await api('GET', '/api/v1/calls?limit=1');
      const live = (data.items || []).filter((c) => c.live);
      const seen = new Set(live.map((c) => c.id));
      for (const c of live) state.calls.set(c.id, { ...state.calls.get(c.id), ...c });
      for (const id of [...state.calls.keys()]) if (!seen.has(id)) state.calls.delete(id);
      renderCalls();
    } catch (_) { /* the ticker still runs */ }
  }

  function eventText(e) {
    switch (e.kind) {
      case 'caller_said': case 'bot_said': return e.text || '';
      case 'intent': return `${e.intent || ''}${e.confidence ? ` (${e.confidence.toFixed(2)})` : ''}`;
      case 'emotion': return e.emotion || '';
      case 'dtmf': return e.digit || '';
      case 'transferred': return e.target || '';
      case 'ringing': return e.code ? `${e.code}` : '';
      case 'ended': return [e.outcome, e.answered_by, e.code ? `SIP ${e.code}` : ''].filter(Boolean).join(' · ');
      default: return e.phone || '';
    }
  }

  function renderTicker() {
    const list = $('ticker');
    list.replaceChildren();
    for (const e of state.events) {
      list.append(el('li', { 'data-kind': e.kind, 'data-call': e.call_id },
        el('span', { class: 'muted' }, `${clock(e.at)} `),
        el('span', { class: 'kind' }, t(e.kind)),
        el('span', { class: 'muted' }, `${shortID(e.call_id)} `),
        el('span', { class: 'text' }, eventText(e))));
    }
  }

  function onEvent(e) {
    if (e.kind === 'caller_said' && e.partial) return; // finals only in the ticker
    state.events.unshift(e);
    if (state.events.length > MAX_TICKER) state.events.length = MAX_TICKER;
    const c = state.calls.get(e.call_id) || { id: e.call_id, campaign_id: e.campaign_id, phone: e.phone, state: 'dialing' };
    if (['dialing', 'ringing', 'answered'].includes(e.kind)) c.state = e.kind;
    if (e.kind === 'caller_said' || e.kind === 'bot_said') state.lastWords.set(e.call_id, `${t(e.kind)}: ${e.text}`);
    if (e.kind === 'ended') {
      state.calls.delete(e.call_id);
      state.lastWords.delete(e.call_id);
    } else {
      state.calls.set(e.call_id, c);
    }
    renderTicker();
    renderCalls();
  }

  function connectEvents() {
    if (state.socket) state.socket.close();
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/ws/events?access_token=${encodeURIComponent(state.token)}`);
    state.socket = ws;
    setConn('connecting');
    ws.onopen = () => { state.connected = true; state.retry = 0; setConn('live'); };
    ws.onmessage = (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch (_) { return; }
      if (msg.type === 'event' && msg.event) onEvent(msg.event);
      else if (msg.type === 'kpis' && msg.kpis) setKPIs(msg.kpis);
      else if (msg.type === 'dropped') setError(`${msg.dropped} events dropped`);
    };
    ws.onclose = () => {
      if (state.socket !== ws) return;
      state.connected = false;
      state.socket = null;
      setConn('offline');
      if (!state.token) return;
      // Back off to at most 10 s; the poll below keeps the figures fresh
      // meanwhile.
      state.retry = Math.min(state.retry + 1, 5);
      setTimeout(() => { if (state.token && !state.socket) connectEvents(); }, 2000 * state.retry);
    };
  }

  // ---- chart: answer and conversion rate per hour ----

  async function loadChart() {
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    try {
      const rep = await api('GET', `/api/v1/kpis?span=24h&group_by=hour&tz=${encodeURIComponent(tz)}`);
      drawChart(rep.groups || []);
    } catch (_) { drawChart([]); }
  }

  function drawChart(groups) {
    const svg = $('chart');
    const W = 720, H = 200, L = 36, R = 10, T = 10, B = 24;
    const x = (h) => L + (h / 23) * (W - L - R);
    const y = (v) => T + (1 - v) * (H - T - B);
    const ns = 'http://www.w3.org/2000/svg';
    const mk = (tag, attrs, text) => {
      const e = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (text !== undefined) e.textContent = text;
      return e;
    };
    svg.replaceChildren();
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      svg.append(mk('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#dde2e7' }));
      svg.append(mk('text', { x: 2, y: y(v) + 3 }, `${v * 100}%`));
    }
    for (let h = 0; h < 24; h += 3) svg.append(mk('text', { x: x(h) - 6, y: H - 6 }, `${String(h).padStart(2, '0')}`));
    const series = [['answer_seizure_ratio', '#0b6bcb'], ['conversion_rate', '#1a7f37']];
    let points = 0;
    for (const [name, color] of series) {
      const pts = [];
      for (const g of groups) {
        const v = g.kpis && g.kpis[name];
        if (!v || v.value === null || v.value === undefined) continue;
        pts.push([x(Number(g.key)), y(v.value)]);
      }
      points += pts.length;
      if (pts.length > 1) svg.append(mk('polyline', { points: pts.map((p) => p.join(',')).join(' '), fill: 'none', stroke: color, 'stroke-width': 2, 'data-series': name }));
      for (const p of pts) svg.append(mk('circle', { cx: p[0], cy: p[1], r: 3, fill: color, 'data-series': name }));
    }
    svg.dataset.points = points;
  }

  // ---- analytics: segments and forecast ----

  function firstCampaign() {
    const running = state.campaigns.find((c) => c.state === 'running');
    return running || state.campaigns[state.campaigns.length - 1];
  }

  async function loadSegments() {
    const box = $('segments');
    const c = firstCampaign();
    if (!c) return;
    try {
      const rep = await api('GET', `/api/v1/analytics/segments?campaign=${c.id}&seed=1`);
      const segs = rep.segments || [];
      if (!segs.length) { box.textContent = t('no_data'); box.className = 'muted'; return; }
      const table = el('table', {}, el('thead', {}, el('tr', {},
        el('th', {}, t('segment')), el('th', {}, t('size')), el('th', {}, t('converted')), el('th', {}, t('conversion_rate')),
        ...(rep.features || []).map((f) => el('th', {}, f)))));
      const body = el('tbody');
      segs.forEach((s, i) => {
        body.append(el('tr', { 'data-segment': i }, el('td', {}, `#${i + 1}`), el('td', {}, s.size), el('td', {}, s.converted),
          el('td', {}, `${(100 * s.conversion_rate).toFixed(1)}%`), ...(s.centroid || []).map((v) => el('td', {}, v.toFixed(1)))));
      });
      table.append(body);
      box.className = '';
      box.replaceChildren(el('div', { class: 'muted' }, `${t('campaign')} ${c.name} · k = ${rep.k}`), table);
    } catch (e) {
      box.className = 'muted';
      box.textContent = e.status === 404 || e.status === 503 ? t('unavailable') : t('no_data');
    }
  }

  async function loadForecast() {
    const box = $('forecast');
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    try {
      const rep = await api('GET', `/api/v1/analytics/forecast?tz=${encodeURIComponent(tz)}`);
      const hours = rep.hours || [];
      if (!hours.length) { box.textContent = t('no_data'); box.className = 'muted'; return; }
      // One bar per hour of day: the mean of next week's daily forecasts.
      const byHour = new Map();
      for (const h of hours) {
        const vs = (h.points || []).map((p) => p.rate).filter((v) => v !== null && v !== undefined);
        if (vs.length) byHour.set(h.hour, vs);
      }
      const table = el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, t('hour')), el('th', {}, t('answer_seizure_ratio')), el('th', {}))));
      const body = el('tbody');
      for (const h of [...byHour.keys()].sort((a, b) => a - b)) {
        const vs = byHour.get(h);
        const mean = vs.reduce((s, v) => s + v, 0) / vs.length;
        const bar = el('div', { class: 'bar' });
        bar.style.width = `${Math.max(0, Math.min(1, mean)) * 100}%`;
        body.append(el('tr', { 'data-hour': h }, el('td', {}, `${String(h).padStart(2, '0')}:00`), el('td', {}, `${(100 * mean).toFixed(1)}%`), el('td', { style: 'width:50%' }, bar)));
      }
      table.append(body);
      box.className = '';
      box.replaceChildren(el('div', { class: 'muted' }, rep.start ? `${t('day')} ${rep.start.slice(0, 10)} +7` : ''), table);
    } catch (e) {
      box.className = 'muted';
      box.textContent = e.status === 404 || e.status === 503 ? t('unavailable') : t('no_data');
    }
  }

  // ---- session ----

  function stopTimers() {
    state.timers.forEach(clearInterval);
    state.timers = [];
  }

  function logout() {
    state.token = '';
    sessionStorage.removeItem(TOKEN_KEY);
    stopTimers();
    const ws = state.socket;
    state.socket = null;
    state.connected = false;
    if (ws) ws.close();
    setConn('offline');
  }

  async function start() {
    stopTimers();
    setError('');
    try {
      await loadCampaigns();
    } catch (_) { return; }
    if (!state.token) return;
    connectEvents();
    loadKPIs();
    loadCalls();
    loadChart();
    loadSegments();
    loadForecast();
    state.timers.push(setInterval(loadCampaigns, 2000));
    state.timers.push(setInterval(loadCalls, 3000));
    // Snapshots come over the socket; the poll covers a server that pushes
    // none (no KPI source) and a socket being re-established.
    state.timers.push(setInterval(() => { if (!state.connected) loadKPIs(); }, 10000));
    state.timers.push(setInterval(loadChart, 30000));
    state.timers.push(setInterval(loadSegments, 60000));
  }

  window.addEventListener('DOMContentLoaded', () => {
    const saved = localStorage.getItem(LANG_KEY);
    state.lang = saved || ((navigator.language || '').toLowerCase().startsWith('zh') ? 'zh-CN' : 'en');
    const q = new URLSearchParams(location.search);
    if (q.get('lang')) state.lang = q.get('lang') === 'zh' || q.get('lang') === 'zh-CN' ? 'zh-CN' : 'en';
    applyLang();
    drawChart([]);
    $('lang').addEventListener('click', () => {
      state.lang = state.lang === 'en' ? 'zh-CN' : 'en';
      localStorage.setItem(LANG_KEY, state.lang);
      applyLang();
    });
    $('login').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const tok = $('token').value.trim();
      if (!tok) { setError(t('need_token')); return; }
      state.token = tok;
      sessionStorage.setItem(TOKEN_KEY, tok);
      $('token').value = '';
      start();
    });
    $('logout').addEventListener('click', logout);
    state.token = sessionStorage.getItem(TOKEN_KEY) || '';
    if (state.token) start(); else setError(t('need_token'));
  });
})();
