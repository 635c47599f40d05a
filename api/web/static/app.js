// The intersect dashboard: plain JS module, no build step. It reads the v1
// API (same origin) and the /api/v1/live websocket. Leaflet (L) and Chart.js
// (Chart) are vendored globals loaded before this module.

const API = '/api/v1';
const $ = (sel) => document.querySelector(sel);
const SEV_COLOUR = { critical: '#c62828', serious: '#ef6c00', minor: '#f9a825' };
const TYPES = ['right-turn-crosswalk', 'right-turn-mid-block', 'left-turn-crosswalk', 'left-turn-mid-block',
  'through-crosswalk', 'through-mid-block', 'rear-end', 'crossing', 'lane-change', 'unclassified'];
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

const state = { cursor: '', origin: null, ws: null, wsRetry: 500, charts: {}, shown: new Set() };

// ---- API helpers ---------------------------------------------------------

function filterParams() {
  const p = new URLSearchParams();
  const site = $('#f-site').value, weather = $('#f-weather').value, sev = $('#f-severity').value, type = $('#f-type').value;
  if (site) p.set('site', site);
  if (weather) p.set('weather', weather);
  if (sev) p.set('severity', sev);
  if (type) p.set('type', type);
  for (const k of ['from', 'to']) {
    const v = $('#f-' + k).value;
    if (v) p.set(k, new Date(v).toISOString().replace(/\.\d{3}Z$/, 'Z'));
  }
  return p;
}

async function getJSON(path) {
  const r = await fetch(path, { headers: { Accept: 'application/json' } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || `${r.status} ${r.statusText}`);
  return body;
}

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k.nodeType ? k : String(k));
  return e;
}

const fmtS = (v) => (v === null || v === undefined ? '–' : `${v.toFixed(2)} s`);
const fmtTime = (t) => new Date(t).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });

// ---- map: a local-metres plan (no tiles, works offline) -------------------

let map, cellLayer, dotLayer, gridLayer;

// toPlan projects WGS84 to metres east/north of the plan origin
// (equirectangular: exact enough over an intersection's 100 m).
function toPlan(lat, lng) {
  const o = state.origin;
  const y = (lat - o[0]) * 110574;
  const x = (lng - o[1]) * 111320 * Math.cos(o[0] * Math.PI / 180);
  return L.latLng(y, x);
}

function initMap() {
  map = L.map('map', { crs: L.CRS.Simple, minZoom: -2, maxZoom: 5, zoomSnap: 0.25, attributionControl: false, keyboard: true });
  map.setView([0, 0], 1);
  gridLayer = L.layerGroup().addTo(map);
  cellLayer = L.layerGroup().addTo(map);
  dotLayer = L.layerGroup().addTo(map);
  drawGrid(80);
}

function drawGrid(half) {
  gridLayer.clearLayers();
  const step = half > 200 ? 50 : 10;
  for (let v = -half; v <= half; v += step) {
    const major = v === 0;
    const style = { color: major ? '#9aa6b6' : '#d3d9e0', weight: major ? 1.5 : 1, interactive: false };
    L.polyline([[v, -half], [v, half]], style).addTo(gridLayer);
    L.polyline([[-half, v], [half, v]], style).addTo(gridLayer);
    if (v !== 0 && v % (step * 2) === 0) {
      L.marker([0, v], { icon: L.divIcon({ className: 'plan-label', html: `${v} m`, iconSize: [40, 12] }), interactive: false, keyboard: false }).addTo(gridLayer);
    }
  }
}

function heatColour(f) {
  // yellow → orange → dark red with the cell's share of the top score
  const stops = [[255, 235, 59, 0.45], [255, 152, 0, 0.7], [183, 28, 28, 0.88]];
  const t = Math.min(1, Math.max(0, f)) * 2, i = Math.min(1, Math.floor(t)), u = t - i;
  const a = stops[i], b = stops[i + 1];
  const mix = a.map((v, k) => v + (b[k] - v) * u);
  return { color: `rgb(${mix[0] | 0},${mix[1] | 0},${mix[2] | 0})`, opacity: mix[3] };
}

async function loadHeatmap() {
  const p = filterParams();
  const fc = await getJSON(`${API}/heatmap?${p}`);
  cellLayer.clearLayers();
  const feats = fc.features || [];
  if (feats.length && fc.bbox) {
    // The plan's origin is the centre of what there is to see.
    state.origin = [(fc.bbox[1] + fc.bbox[3]) / 2, (fc.bbox[0] + fc.bbox[2]) / 2];
  }
  $('#map-note').textContent = feats.length
    ? `${feats.length} cells of ~${fc.properties.edge_m.toFixed(1)} m · metres from the centre`
    : 'no near misses for these filters';
  if (!state.origin) return;
  const top = Math.max(1, ...feats.map((f) => f.properties.score));
  let extent = 20;
  for (const f of feats) {
    const ring = f.geometry.coordinates[0].slice(0, 4).map(([lng, lat]) => toPlan(lat, lng));
    for (const ll of ring) extent = Math.max(extent, Math.abs(ll.lat), Math.abs(ll.lng));
    const c = heatColour(f.properties.score / top), pr = f.properties;
    L.polygon(ring, { color: c.color, weight: 0.5, fillColor: c.color, fillOpacity: c.opacity, className: 'heat-cell' })
      .bindTooltip(`${pr.count} near misses · score ${pr.score}<br>${pr.critical} critical, ${pr.serious} serious, ${pr.minor} minor`)
      .addTo(cellLayer);
  }
  const half = Math.ceil((extent + 10) / 10) * 10;
  drawGrid(half);
  map.fitBounds([[-extent - 5, -extent - 5], [extent + 5, extent + 5]]);
}

function addDot(n) {
  if (!state.origin || !n.lat) return;
  L.circleMarker(toPlan(n.lat, n.lng), { radius: 5, color: '#fff', weight: 1.5, fillColor: SEV_COLOUR[n.severity], fillOpacity: 1 })
    .bindTooltip(`${n.severity} ${n.type} · TTC ${fmtS(n.min_ttc_s)} · PET ${fmtS(n.pet_s)}`)
    .on('click', () => openDetail(n))
    .addTo(dotLayer);
}

// ---- event list ------------------------------------------------------------

function snapshotURL(n) { return `${API}/nearmisses/${encodeURIComponent(n.id)}/snapshot`; }

// retryImage reloads a snapshot that failed: a near miss from the live feed
// can reach the browser a moment before ingest has stored it, and the
// snapshot route answers 404 until then. A fragment makes the URL new to the
// browser without a query parameter the API would refuse.
function retryImage(img, tries = 4) {
  let n = 0;
  img.addEventListener('error', () => {
    if (++n > tries) return;
    setTimeout(() => { img.src = `${img.src.split('#')[0]}#retry-${n}`; }, 500 * n);
  });
}

function eventItem(n, fresh) {
  const thumb = n.snapshot
    ? el('img', { class: 'thumb', src: snapshotURL(n), alt: `snapshot of the ${n.type} near miss`, loading: 'lazy', width: 72, height: 48 })
    : el('span', { class: 'thumb', 'aria-hidden': 'true' }, 'no image');
  if (n.snapshot) retryImage(thumb);
  const btn = el('button', { class: 'ev', type: 'button', onclick: () => openDetail(n), 'aria-label': `${n.severity} ${n.type} at ${n.site} ${n.camera}, ${fmtTime(n.time)}` },
    thumb,
    el('span', {},
      el('span', { class: 'line1' }, el('span', { class: `badge sev-${n.severity}` }, n.severity), n.type),
      el('span', { class: 'line2' }, `${n.class_a} × ${n.class_b} · TTC ${fmtS(n.min_ttc_s)} · PET ${fmtS(n.pet_s)}`),
      el('span', { class: 'line2' }, `${fmtTime(n.time)} · ${n.site}/${n.camera}${n.weather ? ' · ' + n.weather : ''}`)));
  return el('li', { class: fresh ? 'fresh' : '', 'data-id': n.id }, btn);
}

async function loadEvents(append = false) {
  const p = filterParams();
  p.set('limit', '50');
  if (append && state.cursor) p.set('cursor', state.cursor);
  const page = await getJSON(`${API}/nearmisses?${p}`);
  const list = $('#events');
  if (!append) { list.replaceChildren(); dotLayer.clearLayers(); state.shown.clear(); }
  for (const n of page.items) {
    state.shown.add(n.id);
    list.append(eventItem(n, false));
    addDot(n);
  }
  if (!list.children.length) list.append(el('li', { class: 'empty' }, 'No near misses match these filters.'));
  state.cursor = page.next_cursor || '';
  $('#more').hidden = !state.cursor;
  $('#events-count').textContent = `${state.shown.size} shown`;
}

// matchesForm applies the filters the live feed cannot apply server-side.
function matchesForm(n) {
  const p = filterParams();
  if (p.get('weather') && n.weather !== p.get('weather')) return false;
  if (p.get('severity') && !p.get('severity').split(',').includes(n.severity)) return false;
  if (p.get('from') && new Date(n.time) < new Date(p.get('from'))) return false;
  if (p.get('to') && new Date(n.time) >= new Date(p.get('to'))) return false;
  return true;
}

function liveNearMiss(n) {
  knowSite(n.site);
  if (state.shown.has(n.id) || !matchesForm(n)) return;
  state.shown.add(n.id);
  const list = $('#events');
  list.querySelector('.empty')?.remove();
  list.prepend(eventItem(n, true));
  if (!state.origin && n.lat) state.origin = [n.lat, n.lng];
  addDot(n);
  $('#events-count').textContent = `${state.shown.size} shown`;
  scheduleRefresh();
}

let refreshTimer;
function scheduleRefresh() {
  // New events change the heatmap and charts; batch the reloads.
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => { loadHeatmap().catch(showError); loadCharts().catch(showError); }, 3000);
}

function openDetail(n) {
  const body = $('#detail-body');
  const rows = [['When', fmtTime(n.time)], ['Where', `${n.site} / ${n.camera}${n.zone ? ' · ' + n.zone : ''}`],
    ['Road users', `${n.class_a} #${n.track_a} (${n.speed_a_mps.toFixed(1)} m/s) × ${n.class_b} #${n.track_b} (${n.speed_b_mps.toFixed(1)} m/s)`],
    ['Type', n.type], ['Severity', n.severity], ['Min TTC', fmtS(n.min_ttc_s)], ['PET', fmtS(n.pet_s)],
    ['Max DRAC', n.max_drac_mps2 == null ? '–' : `${n.max_drac_mps2.toFixed(1)} m/s²`],
    ['Min distance', `${n.min_distance_m.toFixed(2)} m`], ['Movement', [n.approach, n.movement].filter(Boolean).join(' ') || '–'],
    ['Weather', n.weather || '–'], ['Event ID', n.id]];
  body.replaceChildren(
    n.snapshot ? el('img', { src: `${API}/nearmisses/${encodeURIComponent(n.id)}/snapshot`, alt: 'snapshot with people blurred' }) : el('p', { class: 'empty' }, 'No snapshot for this event.'),
    el('dl', {}, rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])));
  $('#detail-title').textContent = `${n.severity} near miss: ${n.type}`;
  $('#detail').showModal();
}

// ---- charts ----------------------------------------------------------------

function barChart(id, label, colour) {
  return new Chart($(id), {
    type: 'bar',
    data: { labels: [], datasets: [{ label, data: [], backgroundColor: colour, borderRadius: 3 }] },
    options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { grid: { display: false } } } },
  });
}

async function loadCharts() {
  const p = filterParams();
  const get = (by) => { const q = new URLSearchParams(p); q.set('by', by); return getJSON(`${API}/stats?${q}`); };
  const [hour, weekday, weather] = await Promise.all([get('hour'), get('weekday'), get('weather')]);
  const hours = Array.from({ length: 24 }, (_, h) => String(h));
  const count = (res, key) => res.groups.find((g) => g.key === key)?.count || 0;
  setChart('hour', hours.map((h) => h.padStart(2, '0')), hours.map((h) => count(hour, h)));
  setChart('weekday', WEEKDAYS, WEEKDAYS.map((_, d) => count(weekday, String(d))));
  setChart('weather', weather.groups.map((g) => g.key || 'unknown'), weather.groups.map((g) => g.count));
}

function setChart(name, labels, data) {
  const c = state.charts[name];
  c.data.labels = labels;
  c.data.datasets[0].data = data;
  c.update();
}

// ---- recommendations ----------------------------------------------------------

function recCard(rec) {
  const ch = rec.changes || [];
  const ev = rec.evidence || {};
  const rates = (ev.rates || []).map((r) => el('li', {}, `${r.name}: ${r.value.toFixed(2)} (${(r.ci_level * 100).toFixed(0)} % CI ${r.ci_low.toFixed(2)}–${r.ci_high.toFixed(2)}; ${r.count} over ${r.exposure})`));
  const err = el('p', { class: 'err', role: 'alert' });
  const reason = el('input', { type: 'text', placeholder: 'reason (required to reject)', 'aria-label': `reason for the decision on ${rec.rule} at ${rec.site}` });
  const decide = async (action) => {
    err.textContent = '';
    const by = $('#engineer').value.trim();
    if (!by) { err.textContent = 'Enter your name above first.'; $('#engineer').focus(); return; }
    try {
      const r = await fetch(`${API}/recommendations/${encodeURIComponent(rec.id)}/${action}`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ by, reason: reason.value }),
      });
      const body = await r.json();
      if (!r.ok) { err.textContent = body.error; return; }
      card.replaceWith(recCard(body.recommendation));
    } catch (e) { err.textContent = String(e); }
  };
  const actions = rec.state === 'proposed'
    ? el('div', { class: 'actions' }, reason,
      el('button', { class: 'approve', type: 'button', onclick: () => decide('approve') }, 'Approve'),
      el('button', { class: 'reject', type: 'button', onclick: () => decide('reject') }, 'Reject'))
    : null;
  const card = el('article', { class: 'rec', 'data-id': rec.id, 'aria-label': `${rec.rule} recommendation for ${rec.site}` },
    el('h3', {}, el('span', {}, `${rec.rule} · ${rec.site} · ${rec.target.controller} phase ${rec.target.phase}`),
      el('span', { class: `state state-${rec.state}` }, rec.state)),
    el('p', {}, rec.rationale),
    ch.length ? el('table', {}, el('tr', {}, el('th', {}, 'NTCIP object'), el('th', {}, 'current'), el('th', {}, 'proposed')),
      ch.map((c) => el('tr', {}, el('td', {}, c.object), el('td', {}, `${c.current} ${c.unit}`), el('td', {}, `${c.proposed} ${c.unit}`)))) : null,
    rates.length ? el('ul', {}, rates) : null,
    el('p', { class: 'note' }, `${(ev.event_ids || []).length} events as evidence · window ${rec.target.window || '–'} · expected: ${rec.expected_effect?.description || '–'} (${rec.expected_effect?.source || 'no source'})`),
    actions, err);
  return card;
}

async function loadRecs() {
  const p = new URLSearchParams({ limit: '20' });
  if ($('#f-site').value) p.set('site', $('#f-site').value);
  const res = await getJSON(`${API}/recommendations?${p}`);
  const box = $('#recs');
  box.replaceChildren(...res.items.map(recCard));
  if (!res.items.length) box.append(el('p', { class: 'empty' }, 'No recommendations yet.'));
}

function liveRecommendation(rec) {
  const old = document.querySelector(`.rec[data-id="${CSS.escape(rec.id)}"]`);
  if (old) old.replaceWith(recCard(rec));
  else { $('#recs .empty')?.remove(); $('#recs').prepend(recCard(rec)); }
}

// ---- health and sites ----------------------------------------------------------

const healthRows = new Map();
function healthRow(h) {
  const row = el('tr', {},
    el('th', { scope: 'row' }, `${h.site}/${h.camera}`),
    el('td', { class: `status-${h.status}` }, h.status + (h.error ? ` (${h.error})` : '')),
    el('td', {}, `${h.fps_in.toFixed(1)} / ${h.fps_out.toFixed(1)}`),
    el('td', {}, String(h.frames_dropped)),
    el('td', {}, `${(h.detector_p95_ns / 1e6).toFixed(0)} ms`),
    el('td', {}, fmtTime(h.time)));
  const key = `${h.site}/${h.camera}`;
  $('#health .empty')?.closest('tr')?.remove();
  const old = healthRows.get(key);
  if (old) old.replaceWith(row); else $('#health').append(row);
  healthRows.set(key, row);
}

async function loadHealth() {
  const res = await getJSON(`${API}/cameras/health`);
  $('#health').replaceChildren();
  healthRows.clear();
  res.cameras.forEach(healthRow);
  if (!res.cameras.length) $('#health').append(el('tr', {}, el('td', { colspan: 6, class: 'empty' }, 'No camera has reported yet.')));
}

async function loadSites() {
  const res = await getJSON(`${API}/sites`);
  const sel = $('#f-site'), cur = sel.value;
  sel.replaceChildren(el('option', { value: '' }, 'all sites'), ...res.sites.map((s) => el('option', { value: s.site }, s.site)));
  sel.value = cur;
  const ws = $('#w-site'), wcur = ws.value;
  ws.replaceChildren(...res.sites.map((s) => el('option', { value: s.site }, s.site)));
  if (wcur) ws.value = wcur;
  $('#sites').replaceChildren(...res.sites.map((s) => el('li', {},
    `${s.site}: ${s.weighted_rate_per_1000_tracks == null ? 'no exposure counted' : s.weighted_rate_per_1000_tracks.toFixed(1) + ' per 1,000 road users'} (${s.near_misses} near misses, score ${s.score})`)));
}

// loadMovements fills the turning movement counts (vehicles by approach
// and movement, last 24 hours) of the site picked in the weather switch.
async function loadMovements() {
  const site = $('#w-site').value;
  $('#tmc-site').textContent = site ? `(${site})` : '';
  if (!site) { $('#tmc').replaceChildren(); return; }
  const res = await getJSON(`${API}/sites/${encodeURIComponent(site)}/movements`);
  const by = new Map();
  for (const c of res.counts) {
    if (c.class === 'pedestrian' || c.class === 'bicycle' || !c.approach) continue;
    const row = by.get(c.approach) || { left: 0, through: 0, right: 0 };
    if (c.movement in row) row[c.movement] += c.tracks;
    by.set(c.approach, row);
  }
  const rows = [...by.keys()].sort().map((a) => {
    const r = by.get(a);
    return el('tr', {}, el('th', { scope: 'row' }, a), el('td', {}, String(r.left)), el('td', {}, String(r.through)), el('td', {}, String(r.right)));
  });
  $('#tmc').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 4, class: 'empty' }, 'No vehicle counted on an approach yet.'))]));
}

// knowSite adds a site first seen on the live feed to the site pickers, so
// a dashboard opened before any camera reported still offers it.
function knowSite(site) {
  for (const sel of [$('#f-site'), $('#w-site')]) {
    if ([...sel.options].some((o) => o.value === site)) continue;
    sel.append(el('option', { value: site }, site));
    if (sel.id === 'w-site' && sel.options.length === 1) { sel.value = site; Promise.all([loadWeather(), loadMovements()]).catch(showError); }
  }
}

// ---- weather switch ------------------------------------------------------------
// For sites without a weather feed (and the demo): publishes a manual
// observation; the advisor re-evaluates as soon as it sees it.

async function loadWeather() {
  const site = $('#w-site').value;
  if (!site) { $('#w-current').textContent = ''; return; }
  const res = await getJSON(`${API}/sites/${encodeURIComponent(site)}/weather`);
  const o = res.observation;
  $('#w-current').textContent = o ? `now: ${o.condition} (${o.source}, ${fmtTime(o.time)})` : 'now: unknown (no observation yet)';
  if (o) $('#w-condition').value = o.condition;
}

async function setWeather(e) {
  e.preventDefault();
  const by = $('#engineer').value.trim();
  if (!by) { $('#engineer').focus(); $('#w-current').textContent = 'enter your name first (it is recorded)'; return; }
  const site = $('#w-site').value;
  const res = await fetch(`${API}/sites/${encodeURIComponent(site)}/weather`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ condition: $('#w-condition').value, by }),
  });
  const body = await res.json();
  if (!res.ok) { $('#w-current').textContent = `not set: ${body.error}`; return; }
  const o = body.observation;
  $('#w-current').textContent = `now: ${o.condition} (set by ${by})`;
}

// ---- live feed -----------------------------------------------------------------

function liveFilter() {
  const f = {};
  if ($('#f-site').value) f.site = $('#f-site').value;
  if ($('#f-type').value) f.types = [$('#f-type').value];
  return f;
}

function setLive(on, text) {
  const s = $('#live-status');
  s.className = `live ${on ? 'on' : 'off'}`;
  s.textContent = text;
}

function connectLive() {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${API}/live`);
  state.ws = ws;
  ws.onopen = () => { state.wsRetry = 500; ws.send(JSON.stringify(liveFilter())); };
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    switch (msg.type) {
      case 'filter': setLive(true, 'live feed: connected'); break;
      case 'nearmiss': liveNearMiss(msg.data); break;
      case 'health': knowSite(msg.data.site); healthRow(msg.data); break;
      case 'recommendation': liveRecommendation(msg.data); break;
      case 'error': setLive(true, `live feed: ${msg.data.error}`); break;
    }
  };
  ws.onclose = (e) => {
    setLive(false, `live feed: disconnected${e.reason ? ' (' + e.reason + ')' : ''}; retrying`);
    setTimeout(connectLive, state.wsRetry);
    state.wsRetry = Math.min(state.wsRetry * 2, 15000);
  };
}

// ---- wiring ----------------------------------------------------------------------

function showError(e) { setLive(false, `error: ${e.message}`); }

async function reloadAll() {
  state.cursor = '';
  await loadHeatmap();
  await Promise.all([loadEvents(false), loadCharts(), loadRecs()]);
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(liveFilter()));
}

// ---- login -----------------------------------------------------------------
// The token arrives in the URL fragment (#token=…), which browsers never
// send to the server; it is exchanged at once for an HttpOnly session cookie
// and removed from the address bar and history, so it is not left on screen,
// in bookmarks or in JavaScript's reach.

async function openSession(token) {
  const r = await fetch(`${API}/session`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || `${r.status} ${r.statusText}`);
  return body;
}

async function login() {
  const m = location.hash.match(/(?:^#|&)token=([^&]+)/);
  if (m) {
    history.replaceState(null, '', location.pathname + location.search);
    return openSession(decodeURIComponent(m[1]));
  }
  const r = await fetch(`${API}/session`, { headers: { Accept: 'application/json' } });
  return r.ok ? r.json() : null;
}

function showLogin() {
  const form = $('#login');
  form.hidden = false;
  setLive(false, 'live feed: log in first');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await openSession($('#login-token').value.trim());
      location.reload();
    } catch (err) { $('#login-error').textContent = err.message; }
  });
}

async function main() {
  let who;
  try { who = await login(); } catch (e) { $('#login-error').textContent = `login failed: ${e.message}`; }
  if (!who) { showLogin(); return; }
  $('#who').textContent = `${who.name} (${who.role})`;
  $('#logout').hidden = false;
  $('#logout').addEventListener('click', async () => {
    await fetch(`${API}/session`, { method: 'DELETE' });
    location.reload();
  });
  $('#f-type').append(...TYPES.map((t) => el('option', { value: t }, t)));
  $('#engineer').value = localStorage.getItem('intersect.engineer') || '';
  $('#engineer').addEventListener('change', (e) => localStorage.setItem('intersect.engineer', e.target.value.trim()));
  state.charts.hour = barChart('#chart-hour', 'near misses', '#1f5fbf');
  state.charts.weekday = barChart('#chart-weekday', 'near misses', '#5a7fb8');
  state.charts.weather = barChart('#chart-weather', 'near misses', '#6b8e5a');
  initMap();
  const form = $('#filters');
  form.addEventListener('submit', (e) => e.preventDefault());
  form.addEventListener('change', () => reloadAll().catch(showError));
  form.addEventListener('reset', () => setTimeout(() => reloadAll().catch(showError)));
  $('#more').addEventListener('click', () => loadEvents(true).catch(showError));
  $('#weather').addEventListener('submit', (e) => setWeather(e).catch(showError));
  $('#w-site').addEventListener('change', () => Promise.all([loadWeather(), loadMovements()]).catch(showError));
  await loadSites();
  await loadWeather();
  await Promise.all([reloadAll(), loadHealth(), loadMovements()]);
  // Rankings and counts are aggregates: refresh them every 30 s rather
  // than on every live event.
  setInterval(() => Promise.all([loadSites(), loadMovements()]).catch(showError), 30000);
  document.body.dataset.ready = 'true';
  connectLive();
}

main().catch(showError);
