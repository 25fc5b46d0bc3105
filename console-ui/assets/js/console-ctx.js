// Console shared state: the session, the live store, the queue and detail UI
// state and small lookups used by every console-*.js module. No rendering here.
//
// Module map of the call-taker console (`/console`):
//   console.js           entry: header, keyboard, live updates, bootstrap
//   console-ctx.js       this file: shared state and lookups
//   console-queue.js     the queue list (rows, tabs, selection)
//   console-detail.js    opening/closing, incident and call detail, corrections
//   console-location.js  location card, mini map, gazetteer search
//   console-units.js     recommendation, dispatch, assigned units
//   console-timeline.js  timeline card and event labels
//   console-merge.js     possible duplicates, merge, unlink, inline confirm
//   console-callers.js   repeat-caller badges and the caller history card

import { requireSession } from './api.js';
import { Store } from './store.js';

export const session = requireSession();
export const me = session ? session.me : null;
export const READ_ONLY = Boolean(me && !['call_taker', 'dispatcher', 'admin'].includes(me.role));

export const store = new Store({ token: session && session.token, topics: ['console', 'map'] });

export const queueEl = document.getElementById('queue');
export const detailEl = document.getElementById('detail');
export const helpEl = document.getElementById('help');

/** Queue state. */
export const ui = {
  tab: 'emergency',
  items: [],
  selKey: null, // highlighted row
  openKey: null, // opened item
};

/** Per-incident channel of the first report we learned about (for the queue row). */
export const channelOf = new Map();

/** The opened item (incident or call) and everything loaded for it. */
export const D = {
  kind: null, // 'incident' | 'call'
  id: null,
  detail: null, // {incident, reports, timeline}
  rec: null,
  recError: null,
  dups: [],
  selected: new Set(),
  selTouched: false,
  pendingLoc: null,
  confirm: null, // inline confirm in progress: {kind: 'merge'|'unlink', id}
  history: null, // caller history: {numbers: [...], byNumber: {num: calls[]}, error}
  els: null,
  map: null,
  layers: null,
  busy: false,
};

/** Fields reset whenever another item is opened. */
export function resetDetailState(kind, id) {
  Object.assign(D, {
    kind, id, detail: null, rec: null, recError: null, dups: [], selected: new Set(), selTouched: false,
    pendingLoc: null, confirm: null, history: null, els: null, busy: false,
  });
}

export function currentIncident() {
  return D.kind === 'incident' ? store.incidents.get(D.id) || (D.detail && D.detail.incident) : null;
}

export function callsForIncident(id) {
  return [...store.calls.values()].filter((c) => c.incident_id === id);
}

export function callForIncident(id) {
  for (const c of store.calls.values()) if (c.incident_id === id) return c;
  return null;
}

/** The incident's human number if the store knows it, else a short id. */
export function incidentNumber(id) {
  const i = store.incidents.get(id);
  return i ? i.number : id ? String(id).slice(0, 8) + '…' : '';
}

/** Every incident an event is about (report_moved concerns two). */
export function eventIncidentIds(e) {
  if (!e) return [];
  if (e.type === 'report_moved') return [e.from, e.to].filter(Boolean);
  const id = e.incident_id || (e.incident && e.incident.id) || (e.report && e.report.incident_id) || (e.call && e.call.incident_id);
  return id ? [id] : [];
}

const refetchTimers = {};
/** Run fn once after `ms` of quiet under `name`. */
export function debounce(name, fn, ms = 350) {
  clearTimeout(refetchTimers[name]);
  refetchTimers[name] = setTimeout(fn, ms);
}
export function cancelDebounce(name) {
  clearTimeout(refetchTimers[name]);
}
