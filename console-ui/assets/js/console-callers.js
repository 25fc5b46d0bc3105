// Console callers: the "repeat caller ×N" and "N callers" badges, and the
// caller history card (that number's calls of the last 24 h from
// `GET /api/v1/calls?caller=`), shown for a call and for an incident whose
// reports came from a call or carry a reporter phone number.

import { api } from './api.js';
import { t, tw } from './i18n.js';
import { h, fill, fmtTime } from './ui.js';
import { store, D, callsForIncident, debounce } from './console-ctx.js';
import { selectAndOpen } from './console-queue.js';

const MAX_NUMBERS = 3;

/** "repeat caller ×N" (N = calls from that number within 30 min, this one included); null if none before. */
export function repeatBadge(previousCalls) {
  const prev = Number(previousCalls) || 0;
  if (prev <= 0) return null;
  return h('span.repeat-badge', {
    'data-testid': 'repeat-caller', dataset: { previousCalls: String(prev) },
    title: t('caller.repeat_title', { n: prev }),
  }, t('caller.repeat', { n: prev + 1 }));
}

/** "N callers" when an incident has more than one report. */
export function callersBadge(reports) {
  const n = Number(reports) || 0;
  if (n <= 1) return null;
  return h('span.callers-badge', { 'data-testid': 'callers-count', dataset: { count: String(n) }, title: t('detail.callers') }, t('queue.callers', { n }));
}

/** The highest previous_calls of the calls that made an incident (store, plus the loaded history). */
export function repeatCountForIncident(id) {
  let n = 0;
  for (const c of callsForIncident(id)) n = Math.max(n, c.previous_calls || 0);
  if (D.history && D.kind === 'incident' && D.id === id) {
    for (const entry of D.history.byNumber.values()) {
      for (const c of entry.calls || []) if (c.incident_id === id) n = Math.max(n, c.previous_calls || 0);
    }
  }
  return n;
}

/** Caller numbers of the opened item: the call's, or the incident's call reports' and reporter phones. */
function numbersOfOpened() {
  const nums = [];
  const callIds = new Set();
  const add = (n) => { if (n && !nums.includes(n)) nums.push(n); };
  if (D.kind === 'call') {
    const c = store.calls.get(D.id);
    if (c) {
      add(c.caller);
      callIds.add(c.id);
    }
  } else if (D.kind === 'incident') {
    const reports = D.detail ? D.detail.reports || [] : [];
    for (const r of reports) {
      if (r.channel === 'call' && r.call_id) {
        callIds.add(r.call_id);
        const c = store.calls.get(r.call_id);
        add((c && c.caller) || (r.reporter && r.reporter.phone));
      } else add(r.reporter && r.reporter.phone);
    }
    for (const c of callsForIncident(D.id)) {
      callIds.add(c.id);
      add(c.caller);
    }
  }
  return { numbers: nums.slice(0, MAX_NUMBERS), callIds };
}

/** (Re)load the caller history of the opened item; skipped if the numbers did not change, unless `force`. */
export async function loadCallerHistory(force = false) {
  const key = `${D.kind}:${D.id}`;
  const { numbers, callIds } = numbersOfOpened();
  const prev = D.history;
  if (!force && prev && prev.key === key && prev.numbers.join('|') === numbers.join('|')) {
    prev.callIds = callIds;
    renderCallerHistory();
    return;
  }
  if (!numbers.length) {
    D.history = { key, numbers, callIds, byNumber: new Map(), loading: false };
    renderCallerHistory();
    return;
  }
  if (!prev || prev.key !== key) {
    D.history = { key, numbers, callIds, byNumber: new Map(), loading: true };
    renderCallerHistory();
  }
  const entries = await Promise.all(numbers.map(async (num) => {
    try {
      const calls = await api('GET', `/api/v1/calls?caller=${encodeURIComponent(num)}`, undefined, { quiet: true });
      return [num, { calls: (calls || []).slice().sort((a, b) => Date.parse(b.offered_at) - Date.parse(a.offered_at)) }];
    } catch (e) {
      return [num, { calls: [], error: e.message }];
    }
  }));
  if (`${D.kind}:${D.id}` !== key) return;
  D.history = { key, numbers, callIds, byNumber: new Map(entries), loading: false };
  renderCallerHistory();
}

/** A call_updated event: refresh the history if it is about one of the shown numbers. */
export function callerHistoryOnCall(call) {
  if (!D.history || !call) return;
  if (D.history.numbers.includes(call.caller) || D.history.callIds.has(call.id)) {
    debounce('history', () => loadCallerHistory(true), 300);
  }
}

function historyRow(c, callIds) {
  const inc = c.incident_id ? store.incidents.get(c.incident_id) : null;
  const current = callIds.has(c.id);
  const openInc = inc && !(D.kind === 'incident' && D.id === inc.id);
  return h('tr' + (current ? '.current' : ''), {
    'data-testid': 'caller-history-item', dataset: { callId: c.id, status: c.status, incidentId: c.incident_id || '' },
  },
  h('td.mono', fmtTime(c.offered_at)),
  h('td', tw('callstatus', c.status)),
  h('td', inc
    ? (openInc
      ? h('button.linkish', { type: 'button', 'data-testid': 'caller-history-incident', onclick: () => selectAndOpen('incident:' + inc.id) }, inc.number)
      : h('span.mono', inc.number))
    : h('span.muted', t('common.none'))),
  h('td.muted', current ? t('caller.this_call') : ''));
}

/** Fill the caller history card (incident skeleton or call detail) from D.history. */
export function renderCallerHistory() {
  const el = D.els && D.els.history ? D.els.history : document.querySelector('[data-testid="caller-history"]');
  if (!el) return;
  const hist = D.history;
  const show = Boolean(hist && hist.numbers.length);
  el.classList.toggle('hidden', !show);
  if (!show) {
    el.replaceChildren();
    return;
  }
  const total = [...hist.byNumber.values()].reduce((n, e) => n + (e.calls || []).length, 0);
  const body = [h('h2', t('caller.history'), hist.loading ? null : h('span.h2-note', ' · ', t('caller.history_count', { n: total })))];
  for (const num of hist.numbers) {
    const entry = hist.byNumber.get(num);
    const calls = entry ? entry.calls || [] : [];
    const prev = calls.filter((c) => hist.callIds.has(c.id)).reduce((n, c) => Math.max(n, c.previous_calls || 0), 0);
    body.push(h('div.history-num', h('strong.mono', num), repeatBadge(prev)));
    if (!entry) body.push(h('div.muted', t('common.loading')));
    else if (entry.error) body.push(h('div.warn-line', entry.error));
    else if (!calls.length) body.push(h('div.muted', { 'data-testid': 'caller-history-empty' }, t('caller.history_empty')));
    else {
      body.push(h('table.units-table.history-table', h('thead', h('tr',
        h('th', t('caller.time')), h('th', t('detail.status')), h('th', t('caller.incident')), h('th'))),
      h('tbody', calls.map((c) => historyRow(c, hist.callIds)))));
    }
  }
  fill(el, ...body);
}
