// Console location: the opened incident's location card (current location,
// the call's AML location, places found in the text), the mini map (click to
// set a point; candidate units drawn) and the gazetteer place search.

import { api } from './api.js';
import { t, tw } from './i18n.js';
import { h, fill, fmtLatLon } from './ui.js';
import { L } from './mapbase.js';
import { store, D, READ_ONLY, currentIncident, callForIncident, debounce, cancelDebounce } from './console-ctx.js';
import { patchIncident } from './console-detail.js';

export function renderLocation() {
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
  if (loc) {
    if (loc.accuracy_m) L.circle([loc.lat, loc.lon], { radius: loc.accuracy_m, color: '#ff5a5f', weight: 1, fillOpacity: 0.15 }).addTo(D.layers);
    L.circleMarker([loc.lat, loc.lon], { radius: 9, color: '#fff', weight: 3, fillColor: '#ff5a5f', fillOpacity: 1 }).addTo(D.layers);
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

/** Map click: remember a point to confirm with "set location here". */
export function onMapClick(ev) {
  if (READ_ONLY) return;
  D.pendingLoc = { lat: ev.latlng.lat, lon: ev.latlng.lng };
  renderLocation();
}

export function setLocation(p) {
  D.pendingLoc = null;
  const loc = { lat: p.lat, lon: p.lon, source: 'manual' };
  if (p.label) loc.label = p.label;
  patchIncident({ location: loc });
}

// ---------------------------------------------------------------- place search

let runSearch = () => {};

export function wireSearch(input, results) {
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
    cancelDebounce('search');
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
