// `/console`: the call-taker console. Live queue (ringing calls, then active
// incidents by priority and waiting time), detail with classification,
// location, recommendation/dispatch, assigned units, duplicates (merge and
// unlink), caller history and timeline.
//
// This entry module wires the page: header, keyboard, live updates from the
// store, language switch and the HTTP bootstrap. The parts live in
// console-*.js (see the module map in console-ctx.js).

import { api, clearSession } from './api.js';
import { applyI18n, onLangChange } from './i18n.js';
import { mountHeader } from './ui.js';
import {
  session, me, store, ui, D, queueEl, helpEl, channelOf, currentIncident, eventIncidentIds, debounce,
} from './console-ctx.js';
import { renderQueue, scheduleQueue, moveSel, wireTabs } from './console-queue.js';
import {
  openItem, closeDetail, loadDetail, renderCallDetail, renderIncidentDetail, rerenderIncident, acceptClassification,
} from './console-detail.js';
import { loadRecommendation, renderRecommendation, renderAssigned, dispatchSelected } from './console-units.js';
import { loadDuplicates, cancelConfirm, mergeFirstDuplicate } from './console-merge.js';
import { callerHistoryOnCall } from './console-callers.js';

if (session && session.me.role === 'unit') location.replace('/unit');

const header = mountHeader({ me, current: 'console', onLogout: () => { clearSession(); location.href = '/'; } });
applyI18n(document);
store.onConn((s) => header.setConn(s));
wireTabs();

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
    else if (D.confirm) cancelConfirm();
    else if (ui.openKey) closeDetail();
    return;
  }
  if (typing) return;
  // Enter/space on a focused button is the button's own action.
  if (tag === 'button' && (e.key === 'Enter' || e.key === ' ')) return;
  switch (e.key) {
    case 'j': case 'ArrowDown': moveSel(1); break;
    case 'k': case 'ArrowUp': moveSel(-1); break;
    case 'Enter': openItem(ui.selKey); break;
    case 'a': acceptClassification(); break;
    case 'd': dispatchSelected(); break;
    case 'm': mergeFirstDuplicate(); break;
    case 'c': if (D.els && D.els.catSel) D.els.catSel.focus(); break;
    case 'p': if (D.els && D.els.prioSel) D.els.prioSel.focus(); break;
    case '/': if (D.els) D.els.search.focus(); break;
    case '?': toggleHelp(); break;
    default: return;
  }
  e.preventDefault();
});

// ---------------------------------------------------------------- live updates

const DUP_EVENTS = ['incident_created', 'incident_status_changed', 'report_moved', 'incident_corrected'];

store.subscribe((kind, payload) => {
  if (kind === 'event') {
    const e = payload.event || {};
    if (e.type === 'report_received' && !channelOf.has(e.report.incident_id)) channelOf.set(e.report.incident_id, e.report.channel);
    if (e.type === 'unit_moved') return; // frequent, not shown in the queue
    scheduleQueue();
    if (e.type === 'call_updated') callerHistoryOnCall(e.call);
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
      const ids = eventIncidentIds(e);
      if (ids.includes(D.id)) {
        renderIncidentDetail();
        debounce('detail', loadDetail, 400);
        if (['incident_corrected', 'incident_reclassified', 'unit_assigned', 'assignment_released'].includes(e.type)) debounce('rec', loadRecommendation, 400);
        if (e.type === 'report_received') loadDuplicates();
      } else if (e.type === 'unit_status_changed' || e.type === 'unit_registered') {
        const inc = currentIncident();
        if (inc) renderAssigned(inc);
        renderRecommendation();
      }
      // Another incident opened, closed, moved or merged nearby: the duplicate candidates may change.
      if (DUP_EVENTS.includes(e.type)) debounce('dups', loadDuplicates, 500);
    }
  } else if (kind === 'snapshot' || kind === 'incident' || kind === 'ready') {
    scheduleQueue();
    if (D.kind === 'incident') renderIncidentDetail();
  }
});

onLangChange(() => {
  renderQueue();
  if (D.kind === 'incident') rerenderIncident();
  else if (D.kind === 'call') renderCallDetail();
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
