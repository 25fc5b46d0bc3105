// `/console`: the call-taker console. Live queue (ringing calls, then active
// incidents by priority and waiting time), detail with classification,
// location, recommendation/dispatch, assigned units and timeline.

import { api, requireSession, clearSession } from './api.js';
import { t, tw, applyI18n, onLangChange } from './i18n.js';
import { Store } from './store.js';
import { CATEGORIES, PRIORITIES, CORRUPTION_RE, isActiveIncident } from './taxonomy.js';
import {
  h, fill, toast, mountHeader, catBadge, prioBadge, unitStatusChip, incidentStatusChip,
  fmtTime, fmtDistance, fmtEta, fmtLatLon, startTimers,
} from './ui.js';
import { createBaseMap, L } from './mapbase.js';

const session = requireSession();
if (session && session.me.role === 'unit') location.replace('/unit');
const me = session ? session.me : null;
const READ_ONLY = me && !['call_taker', 'dispatcher', 'admin'].includes(me.role);

const header = mountHeader({ me, current: 'console', onLogout: () => { clearSession(); location.href = '/'; } });
applyI18n(document);

const store = new Store({ token: session && session.token, topics: ['console', 'map'] });
store.onConn((s) => header.setConn(s));

const queueEl = document.getElementById('queue');
const detailEl = document.getElementById('detail');
const helpEl = document.getElementById('help');

const ui = {
  tab: 'emergency',
  items: [],
  selKey: null, // highlighted row
  openKey: null, // opened item
};

/** Per-incident channel of the first report we learned about (for the queue row). */
const channelOf = new Map();

// ---------------------------------------------------------------- queue

function callsWithoutIncident() {
  return [...store.calls.values()].filter((c) => c.status !== 'ended' && !c.incident_id);
}

function callForIncident(id) {
  for (const c of store.calls.values()) if (c.incident_id === id) return c;
  return null;
}

function buildItems(tab) {
  const items = [];
  if (tab === 'emergency') {
    const calls = callsWithoutIncident().sort((a, b) =>
      (a.status === 'ringing' ? 0 : 1) - (b.status === 'ringing' ? 0 : 1) || Date.parse(a.offered_at) - Date.parse(b.offered_at));
    for (const c of calls) items.push({ key: 'call:' + c.id, kind: 'call', call: c });
  }
  const incs = store.activeIncidents().filter((i) => (i.queue || (i.category === 'general' ? 'general' : 'emergency')) === tab)
    .sort((a, b) => a.priority - b.priority || Date.parse(a.created_at) - Date.parse(b.created_at));
  for (const i of incs) items.push({ key: 'incident:' + i.id, kind: 'incident', inc: i });
  return items;
}

function placeText(inc) {
  const parts = [];
  if (inc.location && inc.location.label) parts.push(inc.location.label);
  if (inc.district) parts.push(tw('dist', inc.district));
  else if (inc.outside_badung) parts.push(t('detail.outside_badung'));
  return parts.join(' · ') || t('common.unknown');
}

function rowFor(item) {
  const sel = item.key === ui.selKey;
  const open = item.key === ui.openKey;
  const cls = 'li.qrow' + (sel ? '.selected' : '') + (open ? '.open' : '');
  if (item.kind === 'call') {
    const c = item.call;
    const ringing = c.status === 'ringing';
    return h(cls + (ringing ? '.ringing' : ''), {
      'data-testid': 'queue-row', dataset: { key: item.key, kind: 'call', callId: c.id, status: c.status, priority: '0' },
      onclick: () => { select(item.key); openItem(item.key); },
    },
    h('div.qrow-top', ringing ? h('span.ring-badge', t('queue.ringing')) : h('span.istatus', t('detail.call')),
      h('span.qrow-title.mono', c.caller)),
    h('div.qrow-wait', h('span', { 'data-since': c.offered_at }), h('small', t('queue.waiting'))),
    h('div.qrow-sub', h('span.summary', ringing ? (c.location && c.location.label) || t('detail.call') : t('queue.answered_call'))));
  }
  const i = item.inc;
  const call = callForIncident(i.id);
  const who = call ? call.caller : channelOf.has(i.id) ? tw('channel', channelOf.get(i.id)) : null;
  return h(cls, {
    'data-testid': 'queue-row',
    dataset: { key: item.key, kind: 'incident', incidentId: i.id, number: i.number, status: i.status, priority: String(i.priority), category: i.category },
    onclick: () => { select(item.key); openItem(item.key); },
  },
  h('div.qrow-top', catBadge(i.category), prioBadge(i.priority), h('span.qrow-title', tw('cat', i.category))),
  h('div.qrow-wait', h('span', { 'data-since': i.created_at }), h('small', t('queue.waiting'))),
  h('div.qrow-sub',
    incidentStatusChip(i.status),
    who ? h('span.mono.who-col', who) : null,
    h('span', placeText(i)),
    i.reports > 1 ? h('span', t('queue.reports', { n: i.reports })) : null),
  h('div.qrow-sub', h('span.summary', i.summary)));
}

function renderQueue() {
  ui.items = buildItems(ui.tab);
  for (const tab of ['emergency', 'general']) {
    const n = tab === ui.tab ? ui.items.length : buildItems(tab).length;
    document.querySelector(`[data-count="${tab}"]`).textContent = n;
  }
  if (ui.selKey && !ui.items.some((it) => it.key === ui.selKey)) ui.selKey = null;
  if (!ui.selKey && ui.items.length) ui.selKey = ui.items[0].key;
  const rows = ui.items.map(rowFor);
  if (!rows.length) rows.push(h('li.queue-empty', { 'data-testid': 'queue-empty' }, t('queue.empty')));
  fill(queueEl, ...rows);
  for (const el of queueEl.querySelectorAll('[data-since]')) el.textContent = el.textContent || '';
  tickTimers();
}

let queueFrame = 0;
function scheduleQueue() {
  if (queueFrame) return;
  queueFrame = setTimeout(() => {
    queueFrame = 0;
    renderQueue();
  });
}

let timerHandle;
function tickTimers() {
  clearInterval(timerHandle);
  timerHandle = startTimers(document);
}

function select(key) {
  ui.selKey = key;
  for (const el of queueEl.querySelectorAll('.qrow')) el.classList.toggle('selected', el.dataset.key === key);
  const el = queueEl.querySelector(`.qrow[data-key="${CSS.escape(key)}"]`);
  if (el) el.scrollIntoView({ block: 'nearest' });
}

function moveSel(delta) {
  if (!ui.items.length) return;
  let idx = ui.items.findIndex((it) => it.key === ui.selKey);
  idx = idx < 0 ? 0 : Math.max(0, Math.min(ui.items.length - 1, idx + delta));
  select(ui.items[idx].key);
}

for (const btn of document.querySelectorAll('.tab')) {
  btn.addEventListener('click', () => {
    ui.tab = btn.dataset.tab;
    for (const b of document.querySelectorAll('.tab')) b.classList.toggle('active', b === btn);
    ui.selKey = null;
    renderQueue();
  });
}

// ---------------------------------------------------------------- detail state

const D = {
  kind: null, // 'incident' | 'call'
  id: null,
  detail: null, // {incident, reports, timeline}
  rec: null,
  recError: null,
  dups: [],
  selected: new Set(),
  selTouched: false,
  pendingLoc: null,
  els: null,
  map: null,
  layers: null,
  busy: false,
};

function currentIncident() {
  return D.kind === 'incident' ? store.incidents.get(D.id) || (D.detail && D.detail.incident) : null;
}

function openItem(key) {
  if (!key) return;
  const [kind, ...rest] = key.split(':');
  const id = rest.join(':');
  ui.openKey = key;
  for (const el of queueEl.querySelectorAll('.qrow')) el.classList.toggle('open', el.dataset.key === key);
  if (D.ro) {
    D.ro.disconnect();
    D.ro = null;
  }
  if (D.map) {
    D.map.remove();
    D.map = null;
  }
  Object.assign(D, { kind, id, detail: null, rec: null, recError: null, dups: [], selected: new Set(), selTouched: false, pendingLoc: null, els: null });
  if (kind === 'call') {
    renderCallDetail();
    return;
  }
  buildIncidentSkeleton();
  loadDetail();
  loadRecommendation();
  loadDuplicates();
}

function closeDetail() {
  ui.openKey = null;
  if (D.ro) {
    D.ro.disconnect();
    D.ro = null;
  }
  if (D.map) {
    D.map.remove();
    D.map = null;
  }
  Object.assign(D, { kind: null, id: null, detail: null, els: null });
  fill(detailEl, h('div.detail-empty', t('detail.empty')));
  for (const el of queueEl.querySelectorAll('.qrow')) el.classList.remove('open');
  queueEl.focus();
}

async function loadDetail() {
  const id = D.id;
  try {
    const d = await api('GET', `/api/v1/incidents/${encodeURIComponent(id)}`);
    if (D.id !== id) return;
    D.detail = d;
    store.incidents.set(id, { ...(store.incidents.get(id) || {}), ...d.incident });
    for (const r of d.reports || []) if (!channelOf.has(id)) channelOf.set(id, r.channel);
    renderIncidentDetail();
    scheduleQueue();
  } catch {
    /* toast shown */
  }
}

async function loadRecommendation() {
  const id = D.id;
  try {
    const rec = await api('GET', `/api/v1/incidents/${encodeURIComponent(id)}/recommendation`, undefined, { quiet: true });
    if (D.id !== id) return;
    D.rec = rec;
    D.recError = null;
    if (!D.selTouched) D.selected = new Set(rec.best || []);
  } catch (e) {
    if (D.id !== id) return;
    D.rec = null;
    D.recError = e.message;
  }
  renderRecommendation();
}

async function loadDuplicates() {
  const id = D.id;
  try {
    const dups = await api('GET', `/api/v1/incidents/${encodeURIComponent(id)}/duplicates`, undefined, { quiet: true });
    if (D.id !== id) return;
    D.dups = (dups || []).filter((x) => x.id !== id);
  } catch {
    D.dups = [];
  }
  renderDuplicates();
}

const refetchTimers = {};
function debounce(name, fn, ms = 350) {
  clearTimeout(refetchTimers[name]);
  refetchTimers[name] = setTimeout(fn, ms);
}

// ---------------------------------------------------------------- evidence highlight

function highlight(text, evidence) {
  const frag = document.createDocumentFragment();
  const ranges = [];
  const lower = text.toLowerCase();
  for (const ev of evidence || []) {
    const needle = (ev.text || '').toLowerCase().trim();
    if (needle.length < 2) continue;
    let from = 0;
    for (;;) {
      const at = lower.indexOf(needle, from);
      if (at < 0) break;
      ranges.push({ start: at, end: at + needle.length, ev });
      from = at + needle.length;
    }
  }
  ranges.sort((a, b) => a.start - b.start || b.end - a.end);
  let pos = 0;
  for (const r of ranges) {
    if (r.start < pos) continue;
    if (r.start > pos) frag.append(text.slice(pos, r.start));
    frag.append(h('mark.ev-' + r.ev.kind, {
      'data-testid': 'evidence-mark', dataset: { kind: r.ev.kind },
      title: `${r.ev.kind}: ${r.ev.matched}${r.ev.category ? ' → ' + tw('cat', r.ev.category) : ''}`,
    }, text.slice(r.start, r.end)));
    pos = r.end;
  }
  if (pos < text.length) frag.append(text.slice(pos));
  return frag;
}

// ---------------------------------------------------------------- call detail

function renderCallDetail() {
  const c = store.calls.get(D.id);
  if (!c) {
    closeDetail();
    return;
  }
  fill(detailEl, 
    h('div.detail-head', { 'data-testid': 'call-detail' },
      c.status === 'ringing' ? h('span.ring-badge', t('queue.ringing')) : h('span.istatus', t('detail.call')),
      h('span.num', c.caller),
      h('span.muted', `${t('queue.waiting')}: `, h('span.mono', { 'data-since': c.offered_at })),
      h('div.spacer'),
      h('button.btn.btn-ghost', { type: 'button', onclick: closeDetail }, t('detail.close'), ' ', h('kbd', 'Esc'))),
    h('div.detail-grid',
      h('div.col',
        h('div.card', h('h2', t('detail.text')),
          h('div.report-text', { 'data-testid': 'report-text' }, c.transcript || t('detail.call_wait'))),
        h('div.card', h('h2', t('detail.call')),
          h('table.units-table',
            h('tr', h('th', t('detail.caller')), h('td.mono', c.caller)),
            h('tr', h('th', t('detail.status')), h('td', tw('callstatus', c.status))),
            h('tr', h('th', t('detail.offered')), h('td.mono', fmtTime(c.offered_at))),
            c.answered_at ? h('tr', h('th', t('detail.answered')), h('td.mono', fmtTime(c.answered_at))) : null,
            h('tr', h('th', t('detail.location')), h('td', c.location ? `${fmtLatLon(c.location)} (${tw('locsrc', c.location.source)}${c.location.accuracy_m ? ', ±' + Math.round(c.location.accuracy_m) + ' m' : ''})` : t('detail.no_location'))))))),
  );
  tickTimers();
}

// ---------------------------------------------------------------- incident detail

function buildIncidentSkeleton() {
  const els = {
    head: h('div.detail-head'),
    bwise: h('div.bwise.hidden', { 'data-testid': 'bwise-note' }),
    text: h('div.card', { 'data-testid': 'reports' }),
    classif: h('div.card', { 'data-testid': 'classification' }),
    location: h('div.card', { 'data-testid': 'location' }),
    dups: h('div.card.hidden', { 'data-testid': 'duplicates' }),
    rec: h('div.card', { 'data-testid': 'recommendation' }),
    assigned: h('div.card', { 'data-testid': 'assigned-units' }),
    timeline: h('div.card', { 'data-testid': 'timeline' }),
  };
  // Persistent location widgets (keep focus and the typed text across re-renders).
  els.locInfo = h('div');
  els.locMap = h('div.minimap', { 'data-testid': 'minimap' });
  els.locPending = h('div.loc-line.hidden');
  els.search = h('input', {
    type: 'search', id: 'place-search', 'data-testid': 'place-search', placeholder: t('detail.place_search'),
    autocomplete: 'off', disabled: READ_ONLY,
  });
  els.results = h('ul.place-results.hidden', { 'data-testid': 'place-results' });
  els.location.append(h('h2', t('detail.location')), els.locInfo, els.locMap, els.locPending,
    h('div.place-search', els.search, els.results));
  wireSearch(els.search, els.results);
  D.els = els;
  fill(detailEl, 
    els.head,
    h('div.detail-grid',
      h('div.col', els.bwise, els.text, els.classif, els.timeline),
      h('div.col', els.location, els.dups, els.rec, els.assigned)),
  );
  D.map = createBaseMap(els.locMap, { districtLabels: false });
  if (window.ResizeObserver) {
    const map = D.map;
    D.ro = new ResizeObserver(() => { if (D.map === map) map.invalidateSize(); });
    D.ro.observe(els.locMap);
  }
  D.layers = L.layerGroup().addTo(D.map);
  D.map.on('click', (ev) => {
    if (READ_ONLY) return;
    D.pendingLoc = { lat: ev.latlng.lat, lon: ev.latlng.lng };
    renderLocation();
  });
  detailEl.scrollTop = 0;
  renderIncidentDetail();
  renderRecommendation();
}

function renderIncidentDetail() {
  const inc = currentIncident();
  if (!inc || !D.els) return;
  renderHead(inc);
  renderText(inc);
  renderClassification(inc);
  renderLocation();
  renderAssigned(inc);
  renderTimeline();
  tickTimers();
}

function renderHead(inc) {
  fill(D.els.head, 
    catBadge(inc.category), prioBadge(inc.priority),
    h('span.num', { 'data-testid': 'incident-number' }, inc.number),
    incidentStatusChip(inc.status),
    h('span.muted', `${t('queue.waiting')}: `, h('span.mono', { 'data-since': inc.created_at })),
    READ_ONLY ? h('span.readonly-note', t('detail.readonly')) : null,
    h('div.spacer'),
    h('button.btn.btn-ghost', { type: 'button', 'data-testid': 'close-detail', onclick: closeDetail }, t('detail.close'), ' ', h('kbd', 'Esc')),
  );
}

function allTexts(inc) {
  const reports = D.detail ? D.detail.reports || [] : [];
  return reports.length ? reports.map((r) => r.text) : [inc.summary || ''];
}

function renderText(inc) {
  const reports = D.detail ? D.detail.reports || [] : [];
  const els = D.els;
  const list = reports.length
    ? reports.map((r) => h('div.report', { 'data-testid': 'report', dataset: { channel: r.channel } },
      h('div.report-text', { 'data-testid': 'report-text' }, highlight(r.text || '', inc.evidence)),
      h('div.report-meta', [tw('channel', r.channel), r.reporter && r.reporter.phone, r.reporter && r.reporter.name, fmtTime(r.received_at)].filter(Boolean).join(' · '))))
    : [h('div.report-text', { 'data-testid': 'report-text' }, highlight(inc.summary || '', inc.evidence))];
  fill(els.text, 
    h('h2', t('detail.text'), ' · ', h('span', { 'data-testid': 'report-count' }, `${t('detail.callers')}: ${inc.reports}`)),
    ...list,
  );
  const corrupt = inc.category === 'general' && allTexts(inc).some((x) => CORRUPTION_RE.test(x));
  els.bwise.classList.toggle('hidden', !corrupt);
  fill(els.bwise, h('strong', t('bwise.title')), t('bwise.text'));
}

function renderClassification(inc) {
  const els = D.els;
  const focused = document.activeElement;
  const keepCat = focused && focused.id === 'category-select';
  const keepPrio = focused && focused.id === 'priority-select';
  if (keepCat || keepPrio) {
    // Do not rebuild while the user is choosing; just refresh the values.
    if (!keepCat) els.catSel.value = inc.category;
    if (!keepPrio) els.prioSel.value = String(inc.priority);
    return;
  }
  const catSel = h('select', { id: 'category-select', 'data-testid': 'category-select', disabled: READ_ONLY },
    CATEGORIES.map((c) => h('option', { value: c, selected: c === inc.category }, tw('cat', c))));
  const prioSel = h('select', { id: 'priority-select', 'data-testid': 'priority-select', disabled: READ_ONLY },
    PRIORITIES.map((p) => h('option', { value: String(p), selected: p === inc.priority }, t('prio.' + p))));
  catSel.addEventListener('change', () => {
    const cur = currentIncident();
    if (cur && catSel.value !== cur.category) patchIncident({ category: catSel.value });
  });
  prioSel.addEventListener('change', () => {
    const cur = currentIncident();
    if (cur && Number(prioSel.value) !== cur.priority) patchIncident({ priority: Number(prioSel.value) });
  });
  els.catSel = catSel;
  els.prioSel = prioSel;
  const conf = typeof inc.confidence === 'number' ? inc.confidence : null;
  const canAccept = !READ_ONLY && inc.status === 'new';
  const ev = inc.evidence || [];
  fill(els.classif, 
    h('h2', t('detail.classification')),
    h('div.suggest', { 'data-testid': 'suggestion' },
      h('span.muted', t('detail.suggested') + ':'), catBadge(inc.category, true), prioBadge(inc.priority),
      conf != null ? h('span.conf', { 'data-testid': 'confidence' }, h('span.muted', t('detail.confidence')),
        h('span.conf-bar', h('span', { style: { width: Math.round(conf * 100) + '%' } })), h('b.mono', Math.round(conf * 100) + '%')) : null),
    ev.length ? h('div.evidence', { 'data-testid': 'evidence' },
      ev.map((e) => h('span.ev', h('b', e.kind), e.text, e.matched && e.matched !== e.text ? ` → ${e.matched}` : '', e.category ? ` (${tw('cat', e.category)})` : ''))) : null,
    h('div.actions',
      h('button.btn.btn-primary', {
        type: 'button', 'data-testid': 'accept-classification', disabled: !canAccept, onclick: acceptClassification,
      }, inc.status === 'new' ? t('detail.accept') : t('detail.accepted'), ' ', h('kbd', 'a'))),
    h('div.classif', { style: { marginTop: '14px' } },
      h('label', { for: 'category-select' }, t('detail.category'), ' ', h('kbd', 'c')), catSel,
      h('label', { for: 'priority-select' }, t('detail.priority'), ' ', h('kbd', 'p')), prioSel),
  );
}

function renderLocation() {
  const inc = currentIncident();
  if (!inc || !D.els) return;
  const els = D.els;
  const loc = inc.location;
  const call = callForIncident(inc.id);
  const places = (inc.evidence || []).filter((e) => e.kind === 'place');
  fill(els.locInfo, 
    loc
      ? h('div.loc-line', { 'data-testid': 'location-current' },
        h('strong', loc.label || fmtLatLon(loc)), h('span.loc-src', tw('locsrc', loc.source)),
        loc.label ? h('span.muted.mono', fmtLatLon(loc)) : null,
        loc.accuracy_m ? h('span.muted', `±${Math.round(loc.accuracy_m)} m`) : null,
        inc.district ? h('span', '· ' + tw('dist', inc.district)) : null)
      : h('div.warn-line', t('detail.no_location')),
    inc.outside_badung ? h('div.warn-line', { 'data-testid': 'outside-badung' }, t('detail.outside_badung')) : null,
    call && call.location && !(loc && loc.lat === call.location.lat && loc.lon === call.location.lon)
      ? h('div.loc-line.muted', t('detail.loc_from_call') + ': ', h('span.mono', fmtLatLon(call.location)),
        READ_ONLY ? null : h('button.btn.btn-sm', { type: 'button', 'data-testid': 'use-call-location', onclick: () => setLocation({ lat: call.location.lat, lon: call.location.lon, label: call.location.label }) }, t('detail.use')))
      : null,
    places.length ? h('div.loc-line.muted', t('detail.loc_from_text') + ':',
      places.map((p) => h('button.btn.btn-sm', { 'data-testid': 'text-place', type: 'button', onclick: () => { els.search.value = p.matched || p.text; runSearch(); els.search.focus(); } }, p.matched || p.text))) : null,
    READ_ONLY ? null : h('div.muted', { style: { fontSize: '13px' } }, t('detail.loc_click')),
  );
  els.locPending.classList.toggle('hidden', !D.pendingLoc);
  if (D.pendingLoc) {
    fill(els.locPending, 
      h('span.mono', fmtLatLon(D.pendingLoc)),
      h('button.btn.btn-primary', { type: 'button', 'data-testid': 'set-location', onclick: () => setLocation(D.pendingLoc) }, t('detail.loc_set_here')),
      h('button.btn.btn-ghost', { type: 'button', onclick: () => { D.pendingLoc = null; renderLocation(); } }, '✕'),
    );
  }
  // Map layers: incident, pending point, candidate units.
  if (!D.map) return;
  D.layers.clearLayers();
  const pts = [];
  if (loc) {
    if (loc.accuracy_m) L.circle([loc.lat, loc.lon], { radius: loc.accuracy_m, color: '#ff5a5f', weight: 1, fillOpacity: 0.15 }).addTo(D.layers);
    L.circleMarker([loc.lat, loc.lon], { radius: 9, color: '#fff', weight: 3, fillColor: '#ff5a5f', fillOpacity: 1 }).addTo(D.layers);
    pts.push([loc.lat, loc.lon]);
  }
  if (D.pendingLoc) {
    L.circleMarker([D.pendingLoc.lat, D.pendingLoc.lon], { radius: 8, color: '#ffe36e', weight: 3, fillOpacity: 0.2, dashArray: '3 3' }).addTo(D.layers);
  }
  const recUnits = new Set();
  if (D.rec) for (const ty of D.rec.types || []) for (const c of ty.candidates || []) recUnits.add(c.unit_id);
  for (const uid of [...recUnits, ...(inc.units || [])]) {
    const u = store.units.get(uid);
    if (u && u.position) {
      L.circleMarker([u.position.lat, u.position.lon], { radius: 5, color: '#0b0f14', weight: 1, fillColor: D.selected.has(uid) ? '#5cc8ff' : '#8fa3b5', fillOpacity: 1 })
        .bindTooltip(u.call_sign).addTo(D.layers);
    }
  }
  const key = loc ? `${D.id}:${loc.lat},${loc.lon}` : null;
  if (key && D.centeredKey !== key) {
    D.map.invalidateSize();
    D.map.setView([loc.lat, loc.lon], 13);
    D.centeredKey = key;
  }
}

function renderDuplicates() {
  if (!D.els) return;
  const els = D.els;
  els.dups.classList.toggle('hidden', !D.dups.length);
  fill(els.dups, h('h2', t('detail.duplicates')),
    ...D.dups.map((d) => h('div.loc-line', catBadge(d.category), prioBadge(d.priority),
      h('a', { href: '#', onclick: (e) => { e.preventDefault(); select('incident:' + d.id); openItem('incident:' + d.id); } }, d.number),
      h('span.muted', d.summary.slice(0, 80)))));
}

function renderRecommendation() {
  if (!D.els) return;
  const inc = currentIncident();
  const els = D.els;
  const rec = D.rec;
  const body = [h('h2', t('detail.recommended'))];
  if (!rec) {
    body.push(h('div.muted', D.recError || t('common.loading')));
  } else {
    for (const ty of rec.types || []) {
      body.push(h('div.type-head', `${tw('utype', ty.unit_type)} — ${t('detail.needed', { n: ty.needed })}`));
      if (!ty.candidates || !ty.candidates.length) {
        body.push(h('div.warn-line', t('detail.no_candidates')));
        continue;
      }
      body.push(h('table.units-table', h('tbody', ty.candidates.map((c) => {
        const cb = h('input', {
          type: 'checkbox', 'data-testid': 'rec-unit-checkbox', dataset: { unitId: c.unit_id }, checked: D.selected.has(c.unit_id), disabled: READ_ONLY,
        });
        cb.addEventListener('change', () => {
          D.selTouched = true;
          if (cb.checked) D.selected.add(c.unit_id);
          else D.selected.delete(c.unit_id);
          renderRecommendation();
          renderLocation();
        });
        const u = store.units.get(c.unit_id);
        return h('tr', { 'data-testid': 'rec-unit', dataset: { unitId: c.unit_id, best: String((rec.best || []).includes(c.unit_id)) } },
          h('td', h('label', { style: { display: 'flex', gap: '8px', alignItems: 'center', cursor: 'pointer' } }, cb, h('strong', c.call_sign))),
          h('td', u ? unitStatusChip(u.status) : null),
          h('td.num', fmtDistance(c.distance_m)),
          h('td.num', fmtEta(c.eta_s)));
      }))));
    }
    if (rec.already_assigned && rec.already_assigned.length) {
      body.push(h('div.muted', `${t('detail.assigned')}: ${rec.already_assigned.map((id) => (store.units.get(id) || {}).call_sign || id).join(', ')}`));
    }
  }
  const n = D.selected.size;
  body.push(h('div.actions',
    h('button.btn.btn-danger.btn-big', {
      type: 'button', 'data-testid': 'dispatch-button', disabled: READ_ONLY || !n || !inc || D.busy, onclick: dispatchSelected,
    }, n ? t('detail.dispatch_n', { n }) : t('detail.dispatch'), ' ', h('kbd', 'd'))));
  fill(els.rec, ...body);
}

function renderAssigned(inc) {
  const els = D.els;
  const ids = inc.units || [];
  fill(els.assigned, h('h2', t('detail.assigned')),
    ids.length ? h('table.units-table', h('tbody', ids.map((uid) => {
      const u = store.units.get(uid);
      const a = store.assignments.get(uid);
      return h('tr', { 'data-testid': 'assigned-unit', dataset: { unitId: uid, status: u ? u.status : '' } },
        h('td', h('strong', u ? u.call_sign : uid), h('div.muted.mono', { style: { fontSize: '12px' } }, uid)),
        h('td', u ? unitStatusChip(u.status) : null),
        h('td', a && a.incident_id === inc.id ? (a.acked ? h('span.muted', t('detail.acked')) : a.overdue ? h('span.warn-line', t('detail.ack_overdue')) : null) : null));
    }))) : h('div.muted', t('detail.no_assigned')));
}

function describe(rec) {
  const e = rec.event || {};
  const unit = (id) => (store.units.get(id) || {}).call_sign || id;
  switch (e.type) {
    case 'call_updated': return t('ev.call_updated', { status: tw('callstatus', e.call.status) });
    case 'incident_created': return t('ev.incident_created');
    case 'report_received': return t(e.duplicate_of_existing ? 'ev.report_received_dup' : 'ev.report_received', { channel: tw('channel', e.report.channel) });
    case 'incident_status_changed': return t('ev.incident_status_changed', { from: tw('istatus', e.from), to: tw('istatus', e.to) }) + (e.note ? ` — ${e.note}` : '');
    case 'incident_corrected': {
      const what = [];
      if (e.category) what.push(`${tw('cat', e.category.from)} → ${tw('cat', e.category.to)}`);
      if (e.priority) what.push(`P${e.priority.from} → P${e.priority.to}`);
      if (e.location) what.push(`${t('detail.location')}: ${e.location.to ? e.location.to.label || fmtLatLon(e.location.to) : t('common.none')}`);
      return t('ev.incident_corrected', { what: what.join(', ') }) + (e.note ? ` — ${e.note}` : '');
    }
    case 'incident_reclassified': return t('ev.incident_reclassified', { category: tw('cat', e.category), priority: e.priority });
    case 'unit_status_changed': return t('ev.unit_status_changed', { unit: unit(e.unit_id), from: tw('ustatus', e.from), to: tw('ustatus', e.to) });
    case 'unit_assigned': return t(e.automatic ? 'ev.unit_assigned_auto' : 'ev.unit_assigned', { unit: unit(e.unit_id) });
    case 'assignment_acknowledged': return t('ev.assignment_acknowledged', { unit: unit(e.unit_id) });
    case 'assignment_ack_overdue': return t('ev.assignment_ack_overdue', { unit: unit(e.unit_id) });
    case 'assignment_released': return t('ev.assignment_released', { unit: unit(e.unit_id) });
    case 'report_moved': return t('ev.report_moved');
    case 'unit_moved': return t('ev.unit_moved', { unit: unit(e.unit_id) });
    case 'unit_registered': return t('ev.unit_registered', { unit: e.unit.call_sign });
    default: return e.type || '?';
  }
}

function renderTimeline() {
  const els = D.els;
  const tl = D.detail ? [...(D.detail.timeline || [])] : [];
  const seen = new Set(tl.map((r) => r.seq));
  for (const r of store.events) if (!seen.has(r.seq) && eventIncidentId(r.event) === D.id) tl.push(r);
  tl.sort((a, b) => b.seq - a.seq);
  fill(els.timeline, h('h2', t('detail.timeline')),
    tl.length ? h('ol.timeline', tl.map((r) => h('li', { 'data-testid': 'timeline-item', dataset: { type: r.event.type } },
      h('time', { datetime: r.at }, fmtTime(r.at)),
      h('div', describe(r), ' ', h('span.actor', `· ${r.actor ? r.actor.name : ''}`))))) : h('div.muted', t('common.loading')));
}

// ---------------------------------------------------------------- actions

function applyIncident(inc) {
  if (!inc || !inc.id) return;
  store.incidents.set(inc.id, { ...(store.incidents.get(inc.id) || {}), ...inc });
  if (D.detail && D.detail.incident.id === inc.id) D.detail.incident = inc;
  scheduleQueue();
  if (D.id === inc.id) renderIncidentDetail();
}

async function acceptClassification() {
  const inc = currentIncident();
  if (!inc || READ_ONLY || inc.status !== 'new') return;
  try {
    const res = await api('POST', `/api/v1/incidents/${encodeURIComponent(inc.id)}/transition`, { to: 'triaged' });
    applyIncident(res);
    toast(t('toast.accepted', { number: inc.number }), 'ok');
  } catch {
    /* toast shown */
  }
}

async function patchIncident(body) {
  const inc = currentIncident();
  if (!inc || READ_ONLY) return;
  try {
    const res = await api('PATCH', `/api/v1/incidents/${encodeURIComponent(inc.id)}`, body);
    applyIncident(res);
    toast(body.location ? t('toast.location') : t('toast.patched'), 'ok');
    if (body.location || body.category) debounce('rec', loadRecommendation, 100);
    debounce('detail', loadDetail, 200);
  } catch {
    renderClassification(inc);
  }
}

function setLocation(p) {
  D.pendingLoc = null;
  const loc = { lat: p.lat, lon: p.lon, source: 'manual' };
  if (p.label) loc.label = p.label;
  patchIncident({ location: loc });
}

async function dispatchSelected() {
  const inc = currentIncident();
  const units = [...D.selected];
  if (!inc || READ_ONLY || !units.length || D.busy) return;
  D.busy = true;
  renderRecommendation();
  try {
    const res = await api('POST', `/api/v1/incidents/${encodeURIComponent(inc.id)}/dispatch`, { units });
    for (const u of res.assigned || []) store.units.set(u.id, { ...(store.units.get(u.id) || {}), ...u });
    applyIncident(res.incident);
    toast(t('toast.dispatched', { units: (res.assigned || []).map((u) => u.call_sign).join(', ') }), 'ok');
    D.selTouched = false;
    D.selected = new Set();
  } catch {
    /* toast shown (unit_unavailable etc.) */
  } finally {
    D.busy = false;
    loadRecommendation();
    debounce('detail', loadDetail, 200);
  }
}

// ---------------------------------------------------------------- place search

function wireSearch(input, results) {
  let items = [];
  let sel = -1;
  const draw = () => {
    results.classList.toggle('hidden', !items.length);
    fill(results, ...items.map((p, i) => h('li' + (i === sel ? '.sel' : ''), {
      'data-testid': 'place-result', onmousedown: (e) => { e.preventDefault(); choose(i); },
    }, h('strong', p.name), ' ', h('span.muted', `${tw('place', p.kind)} · ${tw('dist', p.district)}`))));
  };
  const choose = (i) => {
    const p = items[i];
    if (!p) return;
    items = [];
    draw();
    input.value = p.name;
    setLocation({ lat: p.lat, lon: p.lon, label: p.name });
  };
  let seq = 0;
  let itemsFor = null; // the query the shown results belong to
  runSearch = async () => {
    const q = input.value.trim();
    const my = ++seq;
    clearTimeout(refetchTimers.search);
    if (q.length < 2) {
      items = [];
      itemsFor = q;
      draw();
      return;
    }
    try {
      const res = await api('GET', `/api/v1/gazetteer?q=${encodeURIComponent(q)}&limit=8`, undefined, { quiet: true });
      if (my !== seq) return;
      items = res || [];
      itemsFor = q;
      sel = items.length ? 0 : -1;
      draw();
    } catch {
      items = [];
      draw();
    }
  };
  input.addEventListener('input', () => debounce('search', runSearch, 200));
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') { sel = Math.min(items.length - 1, sel + 1); draw(); e.preventDefault(); }
    else if (e.key === 'ArrowUp') { sel = Math.max(0, sel - 1); draw(); e.preventDefault(); }
    else if (e.key === 'Enter') {
      e.preventDefault();
      // Results still for an older text (typing was faster than the search): search first.
      if (itemsFor !== input.value.trim()) runSearch().then(() => choose(0));
      else choose(sel);
    }
    else if (e.key === 'Escape') { items = []; draw(); input.blur(); e.stopPropagation(); }
  });
  input.addEventListener('blur', () => setTimeout(() => { items = []; draw(); }, 150));
}
let runSearch = () => {};

// ---------------------------------------------------------------- keyboard

function toggleHelp(show) {
  const next = show === undefined ? helpEl.classList.contains('hidden') : show;
  helpEl.classList.toggle('hidden', !next);
}
helpEl.addEventListener('click', () => toggleHelp(false));
document.getElementById('help-btn').addEventListener('click', () => toggleHelp(true));

document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const tag = (e.target.tagName || '').toLowerCase();
  const typing = tag === 'input' || tag === 'textarea' || tag === 'select';
  if (e.key === 'Escape') {
    if (!helpEl.classList.contains('hidden')) toggleHelp(false);
    else if (typing) e.target.blur();
    else if (ui.openKey) closeDetail();
    return;
  }
  if (typing) return;
  switch (e.key) {
    case 'j': case 'ArrowDown': moveSel(1); break;
    case 'k': case 'ArrowUp': moveSel(-1); break;
    case 'Enter': openItem(ui.selKey); break;
    case 'a': acceptClassification(); break;
    case 'd': dispatchSelected(); break;
    case 'c': if (D.els && D.els.catSel) D.els.catSel.focus(); break;
    case 'p': if (D.els && D.els.prioSel) D.els.prioSel.focus(); break;
    case '/': if (D.els) D.els.search.focus(); break;
    case '?': toggleHelp(); break;
    default: return;
  }
  e.preventDefault();
});

// ---------------------------------------------------------------- live updates

function eventIncidentId(e) {
  if (!e) return null;
  return e.incident_id || (e.incident && e.incident.id) || (e.report && e.report.incident_id) || (e.call && e.call.incident_id) || null;
}

store.subscribe((kind, payload) => {
  if (kind === 'event') {
    const e = payload.event || {};
    if (e.type === 'report_received' && !channelOf.has(e.report.incident_id)) channelOf.set(e.report.incident_id, e.report.channel);
    if (e.type === 'unit_moved') return; // frequent, not shown in the queue
    scheduleQueue();
    if (D.kind === 'call' && e.type === 'call_updated' && e.call.id === D.id) {
      if (e.call.incident_id) {
        // The call turned into an incident: follow it.
        const key = 'incident:' + e.call.incident_id;
        ui.selKey = key;
        openItem(key);
      } else renderCallDetail();
      return;
    }
    if (D.kind === 'incident') {
      const iid = eventIncidentId(e);
      if (iid === D.id) {
        renderIncidentDetail();
        debounce('detail', loadDetail, 400);
        if (['incident_corrected', 'incident_reclassified', 'unit_assigned', 'assignment_released'].includes(e.type)) debounce('rec', loadRecommendation, 400);
        if (e.type === 'report_received') loadDuplicates();
      } else if (e.type === 'unit_status_changed' || e.type === 'unit_registered') {
        const inc = currentIncident();
        if (inc) renderAssigned(inc);
        renderRecommendation();
      }
    }
  } else if (kind === 'snapshot' || kind === 'incident' || kind === 'ready') {
    scheduleQueue();
    if (D.kind === 'incident') renderIncidentDetail();
  }
});

onLangChange(() => {
  renderQueue();
  if (D.kind === 'incident') {
    if (D.els) D.els.search.placeholder = t('detail.place_search');
    renderIncidentDetail();
    renderRecommendation();
    renderDuplicates();
  } else if (D.kind === 'call') renderCallDetail();
  else closeDetail();
});

async function httpBootstrap() {
  // The websocket snapshot is the normal source; this fills the screen if it is slow.
  try {
    const [incs, units, calls] = await Promise.all([
      api('GET', '/api/v1/incidents?active=true&limit=500', undefined, { quiet: true }),
      api('GET', '/api/v1/units', undefined, { quiet: true }),
      api('GET', '/api/v1/calls?active=true', undefined, { quiet: true }).catch(() => []),
    ]);
    if (store.ready) return;
    for (const i of incs || []) store.incidents.set(i.id, i);
    for (const u of units || []) store.units.set(u.id, u);
    for (const c of calls || []) store.calls.set(c.id, c);
    scheduleQueue();
  } catch {
    /* the socket will fill in */
  }
}

if (session) {
  store.connect();
  httpBootstrap();
  renderQueue();
  queueEl.focus();
}
