// `/map`: supervisor live map. Units coloured by status, active incidents by
// category and priority, filters, per-district counts, general queue size and
// key times for the last hour computed from the event log.

import { api, requireSession, clearSession } from './api.js';
import { t, tw, applyI18n, onLangChange } from './i18n.js';
import { Store } from './store.js';
import {
  CATEGORIES, CATEGORY_STYLE, UNIT_TYPES, UNIT_STATUSES, UNIT_STATUS_COLOR, DISTRICTS, isActiveIncident,
} from './taxonomy.js';
import { h, fill, mountHeader, fmtDuration, fmtTime, catBadge, prioBadge, startTimers } from './ui.js';
import { createBaseMap, L } from './mapbase.js';

const session = requireSession();
if (session && session.me.role === 'unit') location.replace('/unit');
const me = session ? session.me : null;

const header = mountHeader({ me, current: 'map', onLogout: () => { clearSession(); location.href = '/'; } });
applyI18n(document);

const store = new Store({ token: session && session.token, topics: ['console', 'map'] });
store.onConn((s) => header.setConn(s));

const map = createBaseMap(document.getElementById('map'));
const unitLayer = L.layerGroup().addTo(map);
// Call-sign labels of idle units only when zoomed in (busy units are always labelled).
const syncZoomClass = () => map.getContainer().classList.toggle('zoom-low', map.getZoom() < 12);
map.on('zoomend', syncZoomClass);
syncZoomClass();
const incidentLayer = L.layerGroup().addTo(map);

const filters = {
  types: new Set(UNIT_TYPES),
  statuses: new Set(UNIT_STATUSES),
  category: '',
};

// ------------------------------------------------------------ filters UI

function chip(value, label, set, color, onChange) {
  const cb = h('input', { type: 'checkbox', checked: set.has(value), dataset: { value } });
  cb.addEventListener('change', () => {
    if (cb.checked) set.add(value);
    else set.delete(value);
    onChange();
  });
  return h('label.chip', { 'data-testid': 'filter-chip', dataset: { value } }, cb,
    color ? h('span.sw', { style: { '--c': color } }) : null, label);
}

function renderFilters() {
  fill(document.getElementById('f-types'), ...UNIT_TYPES.map((ty) => chip(ty, tw('utype', ty), filters.types, null, renderAll)));
  fill(document.getElementById('f-status'), ...UNIT_STATUSES.map((s) => chip(s, tw('ustatus', s), filters.statuses, UNIT_STATUS_COLOR[s], renderAll)));
  const sel = document.getElementById('f-cat');
  fill(sel, h('option', { value: '' }, t('map.all_categories')),
    ...CATEGORIES.map((c) => h('option', { value: c, selected: c === filters.category }, tw('cat', c))));
  sel.value = filters.category;
}
document.getElementById('f-cat').addEventListener('change', (e) => {
  filters.category = e.target.value;
  renderAll();
});

// ------------------------------------------------------------ markers

const unitMarkers = new Map(); // id -> {marker, sig}
const incidentMarkers = new Map();

function unitIcon(u) {
  const color = UNIT_STATUS_COLOR[u.status] || '#999';
  return L.divIcon({
    className: 'umarker-wrap',
    iconSize: null,
    html: `<div class="umarker" data-testid="unit-marker-${esc(u.id)}" data-unit-id="${esc(u.id)}" data-status="${esc(u.status)}" data-unit-type="${esc(u.unit_type)}" style="--c:${color}"><span class="dot"></span><span class="lbl">${esc(u.call_sign)}</span></div>`,
  });
}

function incidentIcon(i) {
  const st = CATEGORY_STYLE[i.category] || { code: '?', color: '#999' };
  return L.divIcon({
    className: 'imarker-wrap',
    iconSize: null,
    html: `<div class="imarker" data-testid="incident-marker-${esc(i.id)}" data-incident-id="${esc(i.id)}" data-category="${esc(i.category)}" data-priority="${i.priority}" data-status="${esc(i.status)}"><span class="cat-code" style="background:${st.color}">${esc(st.code)}</span><span class="prio prio-${i.priority}">P${i.priority}</span></div>`,
  });
}

function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function unitPopup(u) {
  const inc = u.incident_id ? store.incidents.get(u.incident_id) : null;
  return `<strong>${esc(u.call_sign)}</strong> <span class="muted">${esc(u.id)}</span><br>${esc(tw('utype', u.unit_type))} · ${esc(u.station)}<br>`
    + `${esc(tw('ustatus', u.status))}${inc ? ` · ${esc(inc.number)}` : ''}<br><span class="muted">${u.position ? fmtTime(u.position.at) : ''}</span>`;
}

function incidentPopup(i) {
  return `<strong>${esc(i.number)}</strong> · P${i.priority} · ${esc(tw('cat', i.category))}<br>${esc(tw('istatus', i.status))}`
    + `${i.location && i.location.label ? ' · ' + esc(i.location.label) : ''}<br>${esc((i.summary || '').slice(0, 160))}`
    + `${i.units && i.units.length ? '<br>' + i.units.map(esc).join(', ') : ''}`;
}

function renderUnits() {
  const seen = new Set();
  for (const u of store.units.values()) {
    if (!u.position) continue;
    const visible = filters.types.has(u.unit_type) && filters.statuses.has(u.status);
    let m = unitMarkers.get(u.id);
    if (!visible) {
      if (m) {
        unitLayer.removeLayer(m.marker);
        unitMarkers.delete(u.id);
      }
      continue;
    }
    seen.add(u.id);
    const sig = `${u.status}|${u.call_sign}`;
    if (!m) {
      const marker = L.marker([u.position.lat, u.position.lon], { icon: unitIcon(u), zIndexOffset: 1000, riseOnHover: true, keyboard: false });
      marker.bindPopup(() => unitPopup(store.units.get(u.id) || u));
      marker.addTo(unitLayer);
      m = { marker, sig };
      unitMarkers.set(u.id, m);
    } else {
      const ll = m.marker.getLatLng();
      if (ll.lat !== u.position.lat || ll.lng !== u.position.lon) m.marker.setLatLng([u.position.lat, u.position.lon]);
      if (m.sig !== sig) {
        m.marker.setIcon(unitIcon(u));
        m.sig = sig;
      }
    }
  }
  for (const [id, m] of unitMarkers) {
    if (!seen.has(id)) {
      unitLayer.removeLayer(m.marker);
      unitMarkers.delete(id);
    }
  }
}

function renderIncidents() {
  const seen = new Set();
  for (const i of store.activeIncidents()) {
    if (!i.location || (filters.category && i.category !== filters.category)) continue;
    seen.add(i.id);
    const sig = `${i.category}|${i.priority}|${i.status}`;
    let m = incidentMarkers.get(i.id);
    if (!m) {
      const marker = L.marker([i.location.lat, i.location.lon], { icon: incidentIcon(i), zIndexOffset: 2000 - i.priority * 100, keyboard: false });
      marker.bindPopup(() => incidentPopup(store.incidents.get(i.id) || i));
      marker.addTo(incidentLayer);
      incidentMarkers.set(i.id, { marker, sig });
    } else {
      m.marker.setLatLng([i.location.lat, i.location.lon]);
      if (m.sig !== sig) {
        m.marker.setIcon(incidentIcon(i));
        m.sig = sig;
      }
    }
  }
  for (const [id, m] of incidentMarkers) {
    if (!seen.has(id)) {
      incidentLayer.removeLayer(m.marker);
      incidentMarkers.delete(id);
    }
  }
}

// ------------------------------------------------------------ side panel

function renderIncidentList() {
  const list = store.activeIncidents()
    .filter((i) => i.queue !== 'general' && (!filters.category || i.category === filters.category))
    .sort((a, b) => a.priority - b.priority || Date.parse(a.created_at) - Date.parse(b.created_at));
  document.getElementById('inc-count').textContent = `(${list.length})`;
  fill(document.getElementById('inc-list'), list.slice(0, 30).map((i) => h('li', {
    'data-testid': 'map-incident', dataset: { incidentId: i.id, status: i.status },
    onclick: () => {
      const m = incidentMarkers.get(i.id);
      if (m) {
        map.flyTo(m.marker.getLatLng(), Math.max(map.getZoom(), 14), { duration: 0.6 });
        m.marker.openPopup();
      }
    },
  },
  catBadge(i.category), prioBadge(i.priority),
  h('span.inc-num.mono', i.number.replace(/^BDG-\d{4}-0*/, '#')),
  h('span.inc-place', i.location && i.location.label ? i.location.label : i.district ? tw('dist', i.district) : ''),
  h('span.inc-status', tw('istatus', i.status)),
  h('span.mono.muted', { 'data-since': i.created_at }))));
}

function renderCounts() {
  renderIncidentList();
  const active = store.activeIncidents();
  const general = active.filter((i) => (i.queue || (i.category === 'general' ? 'general' : 'emergency')) === 'general');
  document.getElementById('general-count').textContent = String(general.length);
  const byDistrict = new Map(DISTRICTS.map((d) => [d, 0]));
  let other = 0;
  for (const i of active) {
    if (i.queue === 'general') continue;
    if (filters.category && i.category !== filters.category) continue;
    if (i.district && byDistrict.has(i.district)) byDistrict.set(i.district, byDistrict.get(i.district) + 1);
    else other += 1;
  }
  fill(document.getElementById('district-table'), 
    ...DISTRICTS.map((d) => h('tr', { 'data-testid': 'district-count', dataset: { district: d } }, h('td', tw('dist', d)), h('td.num', String(byDistrict.get(d))))),
    h('tr', { 'data-testid': 'district-count', dataset: { district: 'other' } }, h('td.muted', t('map.outside')), h('td.num', String(other))),
  );
  const unitCounts = new Map(UNIT_STATUSES.map((s) => [s, 0]));
  for (const u of store.units.values()) if (filters.types.has(u.unit_type)) unitCounts.set(u.status, (unitCounts.get(u.status) || 0) + 1);
  fill(document.getElementById('unit-counts'), 
    ...UNIT_STATUSES.map((s) => h('tr', { dataset: { status: s } },
      h('td', h('span.ustatus', { style: { '--c': UNIT_STATUS_COLOR[s] } }, tw('ustatus', s))), h('td.num', String(unitCounts.get(s))))),
  );
}

// ------------------------------------------------------------ key times

/** Event records by seq from incident timelines (history) plus the live feed. */
const history = new Map();

function quantile(sorted, q) {
  if (!sorted.length) return null;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx];
}

export function computeKeyTimes(records, now = Date.now()) {
  const since = now - 3600_000;
  const recs = [...records].sort((a, b) => a.seq - b.seq);
  const start = new Map(); // incident -> ms (call answered, else incident created)
  const answered = new Map();
  const firstDispatch = new Map();
  const assignments = []; // {unit, incident, at}
  const onScene = []; // {unit, incident, at}
  for (const r of recs) {
    const e = r.event || {};
    const at = Date.parse(r.at);
    switch (e.type) {
      case 'incident_created':
        if (!start.has(e.incident.id)) start.set(e.incident.id, Date.parse(e.incident.created_at || r.at));
        break;
      case 'call_updated':
        if (e.call.incident_id && e.call.answered_at) answered.set(e.call.incident_id, Date.parse(e.call.answered_at));
        break;
      case 'unit_assigned':
        if (!firstDispatch.has(e.incident_id)) firstDispatch.set(e.incident_id, at);
        assignments.push({ unit: e.unit_id, incident: e.incident_id, at });
        break;
      case 'unit_status_changed':
        if (e.to === 'on_scene') onScene.push({ unit: e.unit_id, incident: e.incident_id, at });
        break;
      default:
        break;
    }
  }
  const toDispatch = [];
  for (const [inc, d] of firstDispatch) {
    if (d < since) continue;
    const s = answered.get(inc) ?? start.get(inc);
    if (s != null && d >= s) toDispatch.push((d - s) / 1000);
  }
  const toScene = [];
  for (const a of assignments) {
    const arr = onScene.find((o) => o.unit === a.unit && o.at >= a.at && (!o.incident || o.incident === a.incident));
    if (arr && arr.at >= since) toScene.push((arr.at - a.at) / 1000);
  }
  const stats = (xs) => {
    const s = xs.sort((a, b) => a - b);
    return { n: s.length, median: quantile(s, 0.5), p90: quantile(s, 0.9) };
  };
  return { answerToDispatch: stats(toDispatch), dispatchToScene: stats(toScene) };
}

function renderKeyTimes() {
  for (const r of store.events) history.set(r.seq, r);
  const kt = computeKeyTimes(history.values());
  const row = (key, s, id) => [
    h('div', { style: { gridColumn: '1 / -1', marginTop: '6px', fontWeight: '700' } }, t(key), ' ', h('span.muted', { style: { fontWeight: 400 } }, t('map.samples', { n: s.n }))),
    h('div.muted', t('map.median')), h('div.v', { 'data-testid': `kt-${id}-median` }, fmtDuration(s.median)), h('div'),
    h('div.muted', t('map.p90')), h('div.v', { 'data-testid': `kt-${id}-p90` }, fmtDuration(s.p90)), h('div'),
  ];
  fill(document.getElementById('key-times'), 
    ...row('map.answer_to_dispatch', kt.answerToDispatch, 'dispatch'),
    ...row('map.dispatch_to_scene', kt.dispatchToScene, 'scene'),
  );
}

async function loadHistory() {
  const since = new Date(Date.now() - 3600_000).toISOString();
  try {
    const incs = await api('GET', `/api/v1/incidents?since=${encodeURIComponent(since)}&limit=100`, undefined, { quiet: true });
    const ids = (incs || []).map((i) => i.id).slice(0, 100);
    // A few at a time, to be gentle with the server.
    for (let k = 0; k < ids.length; k += 4) {
      const batch = await Promise.all(ids.slice(k, k + 4).map((id) =>
        api('GET', `/api/v1/incidents/${encodeURIComponent(id)}`, undefined, { quiet: true }).catch(() => null)));
      for (const d of batch) for (const r of (d && d.timeline) || []) history.set(r.seq, r);
    }
  } catch {
    /* live events only */
  }
  renderKeyTimes();
}

// ------------------------------------------------------------ wiring

let frame = 0;
function renderAll() {
  if (frame) return;
  frame = setTimeout(() => {
    frame = 0;
    renderUnits();
    renderIncidents();
    renderCounts();
  });
}

store.subscribe((kind, payload) => {
  renderAll();
  if (kind === 'event') {
    const ty = payload.event && payload.event.type;
    if (['unit_assigned', 'unit_status_changed', 'incident_created', 'call_updated'].includes(ty)) renderKeyTimes();
  }
});

onLangChange(() => {
  renderFilters();
  renderCounts();
  renderKeyTimes();
});

async function httpBootstrap() {
  try {
    const [incs, units] = await Promise.all([
      api('GET', '/api/v1/incidents?active=true&limit=500', undefined, { quiet: true }),
      api('GET', '/api/v1/units', undefined, { quiet: true }),
    ]);
    if (store.ready) return;
    for (const i of incs || []) store.incidents.set(i.id, i);
    for (const u of units || []) store.units.set(u.id, u);
    renderAll();
  } catch {
    /* the socket will fill in */
  }
}

if (session) {
  renderFilters();
  renderCounts();
  renderKeyTimes();
  store.connect();
  httpBootstrap();
  loadHistory();
  setInterval(renderKeyTimes, 15_000);
  startTimers(document);
}
