// Console detail: opening and closing a queue item, the incident detail
// (header, reports with evidence highlighting, classification with accept and
// corrections) and the ringing-call detail. The other cards are drawn by
// console-location/-units/-timeline/-merge/-callers.js.

import { api } from './api.js';
import { t, tw } from './i18n.js';
import { CATEGORIES, PRIORITIES, CORRUPTION_RE } from './taxonomy.js';
import { h, fill, toast, catBadge, prioBadge, incidentStatusChip, fmtTime, fmtLatLon } from './ui.js';
import { createBaseMap, L } from './mapbase.js';
import {
  store, ui, D, READ_ONLY, detailEl, queueEl, channelOf, currentIncident, resetDetailState, debounce,
} from './console-ctx.js';
import { scheduleQueue, tickTimers, markOpen } from './console-queue.js';
import { renderLocation, wireSearch, onMapClick } from './console-location.js';
import { loadRecommendation, renderRecommendation, renderAssigned } from './console-units.js';
import { renderTimeline } from './console-timeline.js';
import { loadDuplicates, renderDuplicates, unlinkControl } from './console-merge.js';
import { repeatBadge, callersBadge, repeatCountForIncident, loadCallerHistory, renderCallerHistory } from './console-callers.js';

// ---------------------------------------------------------------- open / close

function dropMap() {
  if (D.ro) {
    D.ro.disconnect();
    D.ro = null;
  }
  if (D.map) {
    D.map.remove();
    D.map = null;
  }
}

export function openItem(key) {
  if (!key) return;
  const [kind, ...rest] = key.split(':');
  const id = rest.join(':');
  ui.openKey = key;
  markOpen(key);
  dropMap();
  resetDetailState(kind, id);
  if (kind === 'call') {
    renderCallDetail();
    loadCallerHistory();
    return;
  }
  buildIncidentSkeleton();
  loadDetail();
  loadRecommendation();
  loadDuplicates();
}

export function closeDetail() {
  ui.openKey = null;
  dropMap();
  resetDetailState(null, null);
  fill(detailEl, h('div.detail-empty', t('detail.empty')));
  markOpen(null);
  queueEl.focus();
}

export async function loadDetail() {
  const id = D.id;
  if (D.kind !== 'incident') return;
  try {
    const d = await api('GET', `/api/v1/incidents/${encodeURIComponent(id)}`);
    if (D.id !== id) return;
    D.detail = d;
    store.incidents.set(id, { ...(store.incidents.get(id) || {}), ...d.incident });
    for (const r of d.reports || []) if (!channelOf.has(id)) channelOf.set(id, r.channel);
    renderIncidentDetail();
    loadCallerHistory();
    scheduleQueue();
  } catch {
    /* toast shown */
  }
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

export function renderCallDetail() {
  const c = store.calls.get(D.id);
  if (!c) {
    closeDetail();
    return;
  }
  const loc = c.location;
  fill(detailEl,
    h('div.detail-head', { 'data-testid': 'call-detail' },
      c.status === 'ringing' ? h('span.ring-badge', t('queue.ringing')) : h('span.istatus', t('detail.call')),
      h('span.num', c.caller),
      repeatBadge(c.previous_calls),
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
            h('tr', h('th', t('detail.location')), h('td', loc ? `${fmtLatLon(loc)} (${tw('locsrc', loc.source)}${loc.accuracy_m ? ', ±' + Math.round(loc.accuracy_m) + ' m' : ''})` : t('detail.no_location')))))),
      h('div.col', h('div.card.hidden', { 'data-testid': 'caller-history' }))),
  );
  renderCallerHistory();
  tickTimers();
}

// ---------------------------------------------------------------- incident detail

function buildIncidentSkeleton() {
  const els = {
    head: h('div.detail-head'),
    bwise: h('div.bwise.hidden', { 'data-testid': 'bwise-note' }),
    text: h('div.card', { 'data-testid': 'reports' }),
    classif: h('div.card', { 'data-testid': 'classification' }),
    history: h('div.card.hidden', { 'data-testid': 'caller-history' }),
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
      h('div.col', els.bwise, els.text, els.classif, els.history, els.timeline),
      h('div.col', els.location, els.dups, els.rec, els.assigned)),
  );
  D.map = createBaseMap(els.locMap, { districtLabels: false });
  if (window.ResizeObserver) {
    const map = D.map;
    D.ro = new ResizeObserver(() => { if (D.map === map) map.invalidateSize(); });
    D.ro.observe(els.locMap);
  }
  D.layers = L.layerGroup().addTo(D.map);
  D.map.on('click', onMapClick);
  detailEl.scrollTop = 0;
  renderIncidentDetail();
  renderRecommendation();
}

export function renderIncidentDetail() {
  const inc = currentIncident();
  if (!inc || !D.els) return;
  renderHead(inc);
  renderText(inc);
  renderClassification(inc);
  renderCallerHistory();
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
    callersBadge(inc.reports),
    repeatBadge(repeatCountForIncident(inc.id)),
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

export function renderText(inc) {
  const els = D.els;
  if (!els) return;
  const reports = D.detail ? D.detail.reports || [] : [];
  const list = reports.length
    ? reports.map((r) => h('div.report', { 'data-testid': 'report', dataset: { channel: r.channel, reportId: r.id } },
      h('div.report-text', { 'data-testid': 'report-text' }, highlight(r.text || '', inc.evidence)),
      h('div.report-foot',
        h('div.report-meta', [tw('channel', r.channel), r.reporter && r.reporter.phone, r.reporter && r.reporter.name, fmtTime(r.received_at)].filter(Boolean).join(' · ')),
        unlinkControl(r, reports.length))))
    : [h('div.report-text', { 'data-testid': 'report-text' }, highlight(inc.summary || '', inc.evidence))];
  const n = inc.reports || reports.length || 1;
  fill(els.text,
    h('h2', t('detail.text'), ' · ', h('span' + (n > 1 ? '.report-count-many' : ''), { 'data-testid': 'report-count', dataset: { count: String(n) } }, `${t('detail.callers')}: ${n}`)),
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

/** Re-render everything of the opened incident (e.g. after a language switch). */
export function rerenderIncident() {
  if (D.els) D.els.search.placeholder = t('detail.place_search');
  renderIncidentDetail();
  renderRecommendation();
  renderDuplicates();
}

// ---------------------------------------------------------------- actions

export function applyIncident(inc) {
  if (!inc || !inc.id) return;
  store.incidents.set(inc.id, { ...(store.incidents.get(inc.id) || {}), ...inc });
  if (D.detail && D.detail.incident.id === inc.id) D.detail.incident = inc;
  scheduleQueue();
  if (D.id === inc.id) renderIncidentDetail();
}

export async function acceptClassification() {
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

export async function patchIncident(body) {
  const inc = currentIncident();
  if (!inc || READ_ONLY) return;
  try {
    const res = await api('PATCH', `/api/v1/incidents/${encodeURIComponent(inc.id)}`, body);
    applyIncident(res);
    toast(body.location ? t('toast.location') : t('toast.patched'), 'ok');
    if (body.location || body.category) debounce('rec', loadRecommendation, 100);
    if (body.location) debounce('dups', loadDuplicates, 300);
    debounce('detail', loadDetail, 200);
  } catch {
    renderClassification(inc);
  }
}
