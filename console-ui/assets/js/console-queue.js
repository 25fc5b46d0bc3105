// Console queue: the live list on the left (ringing calls first, then active
// incidents by priority and waiting time), its tabs, keyboard selection and the
// per-row badges (repeat caller, number of callers).

import { t, tw } from './i18n.js';
import { h, fill, catBadge, prioBadge, incidentStatusChip, startTimers } from './ui.js';
import { store, ui, queueEl, channelOf, callForIncident } from './console-ctx.js';
import { openItem } from './console-detail.js';
import { repeatBadge, callersBadge, repeatCountForIncident } from './console-callers.js';

function callsWithoutIncident() {
  return [...store.calls.values()].filter((c) => c.status !== 'ended' && !c.incident_id);
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

export function placeText(inc) {
  const parts = [];
  if (inc.location && inc.location.label) parts.push(inc.location.label);
  if (inc.district) parts.push(tw('dist', inc.district));
  else if (inc.outside_badung) parts.push(t('detail.outside_badung'));
  return parts.join(' · ') || t('common.unknown');
}

/** A line of its own for the "N callers" / "repeat caller" badges (so the title keeps its width). */
function flagsLine(...badges) {
  const present = badges.filter(Boolean);
  return present.length ? h('div.qrow-flags', present) : null;
}

function rowFor(item) {
  const sel = item.key === ui.selKey;
  const open = item.key === ui.openKey;
  const cls = 'li.qrow' + (sel ? '.selected' : '') + (open ? '.open' : '');
  const onclick = () => { select(item.key); openItem(item.key); };
  if (item.kind === 'call') {
    const c = item.call;
    const ringing = c.status === 'ringing';
    return h(cls + (ringing ? '.ringing' : ''), {
      'data-testid': 'queue-row', dataset: { key: item.key, kind: 'call', callId: c.id, status: c.status, priority: '0' }, onclick,
    },
    h('div.qrow-top', ringing ? h('span.ring-badge', t('queue.ringing')) : h('span.istatus', t('detail.call')),
      h('span.qrow-title.mono', c.caller)),
    h('div.qrow-wait', h('span', { 'data-since': c.offered_at }), h('small', t('queue.waiting'))),
    flagsLine(null, repeatBadge(c.previous_calls)),
    h('div.qrow-sub', h('span.summary', ringing ? (c.location && c.location.label) || t('detail.call') : t('queue.answered_call'))));
  }
  const i = item.inc;
  const call = callForIncident(i.id);
  const who = call ? call.caller : channelOf.has(i.id) ? tw('channel', channelOf.get(i.id)) : null;
  return h(cls, {
    'data-testid': 'queue-row',
    dataset: { key: item.key, kind: 'incident', incidentId: i.id, number: i.number, status: i.status, priority: String(i.priority), category: i.category, reports: String(i.reports || 0) },
    onclick,
  },
  h('div.qrow-top', catBadge(i.category), prioBadge(i.priority), h('span.qrow-title', tw('cat', i.category))),
  h('div.qrow-wait', h('span', { 'data-since': i.created_at }), h('small', t('queue.waiting'))),
  flagsLine(callersBadge(i.reports), repeatBadge(repeatCountForIncident(i.id))),
  h('div.qrow-sub',
    incidentStatusChip(i.status),
    who ? h('span.mono.who-col', who) : null,
    h('span', placeText(i))),
  h('div.qrow-sub', h('span.summary', i.summary)));
}

export function renderQueue() {
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
  tickTimers();
}

let queueFrame = 0;
export function scheduleQueue() {
  if (queueFrame) return;
  queueFrame = setTimeout(() => {
    queueFrame = 0;
    renderQueue();
  });
}

let timerHandle;
/** (Re)start the once-a-second waiting-time counters of the whole page. */
export function tickTimers() {
  clearInterval(timerHandle);
  timerHandle = startTimers(document);
}

export function select(key) {
  ui.selKey = key;
  for (const el of queueEl.querySelectorAll('.qrow')) el.classList.toggle('selected', el.dataset.key === key);
  const el = queueEl.querySelector(`.qrow[data-key="${CSS.escape(key)}"]`);
  if (el) el.scrollIntoView({ block: 'nearest' });
}

/** Highlight and open a queue item (also used to jump to another incident). */
export function selectAndOpen(key) {
  select(key);
  openItem(key);
}

export function moveSel(delta) {
  if (!ui.items.length) return;
  let idx = ui.items.findIndex((it) => it.key === ui.selKey);
  idx = idx < 0 ? 0 : Math.max(0, Math.min(ui.items.length - 1, idx + delta));
  select(ui.items[idx].key);
}

export function markOpen(key) {
  for (const el of queueEl.querySelectorAll('.qrow')) el.classList.toggle('open', el.dataset.key === key);
}

export function wireTabs() {
  for (const btn of document.querySelectorAll('.tab')) {
    btn.addEventListener('click', () => {
      ui.tab = btn.dataset.tab;
      for (const b of document.querySelectorAll('.tab')) b.classList.toggle('active', b === btn);
      ui.selKey = null;
      renderQueue();
    });
  }
}
