// Console duplicates: the "possible duplicates nearby" card with "merge into
// this" (`POST /incidents/{id}/merge`), "unlink" of one report into its own
// incident (`POST /reports/{id}/unlink`), and the small inline confirm both use
// (keyboard: the confirm button takes focus, Esc cancels).

import { api } from './api.js';
import { t } from './i18n.js';
import { h, fill, toast, catBadge, prioBadge, incidentStatusChip, fmtDistance } from './ui.js';
import { store, D, READ_ONLY, currentIncident } from './console-ctx.js';
import { selectAndOpen, scheduleQueue } from './console-queue.js';
import { renderText } from './console-detail.js';
import { callersBadge } from './console-callers.js';

export async function loadDuplicates() {
  const id = D.id;
  if (D.kind !== 'incident') return;
  try {
    const dups = await api('GET', `/api/v1/incidents/${encodeURIComponent(id)}/duplicates`, undefined, { quiet: true });
    if (D.id !== id) return;
    D.dups = (dups || []).filter((x) => x.id !== id);
  } catch {
    if (D.id !== id) return;
    D.dups = [];
  }
  if (D.confirm && D.confirm.kind === 'merge' && !D.dups.some((d) => d.id === D.confirm.id)) D.confirm = null;
  renderDuplicates();
}

function distanceM(a, b) {
  if (!a || !b) return null;
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371000 * Math.asin(Math.sqrt(s));
}

// ---------------------------------------------------------------- inline confirm

export function startConfirm(kind, id) {
  if (READ_ONLY) return;
  D.confirm = { kind, id, focused: false };
  rerender(kind);
}

export function cancelConfirm() {
  if (!D.confirm) return false;
  const { kind, id } = D.confirm;
  D.confirm = null;
  rerender(kind);
  // Give the focus back to the button that opened the confirm.
  const sel = kind === 'merge' ? `[data-testid="merge-into"][data-target-id="${CSS.escape(id)}"]` : `[data-testid="unlink-report"][data-report-id="${CSS.escape(id)}"]`;
  const btn = document.querySelector(sel);
  if (btn) btn.focus();
  return true;
}

function rerender(kind) {
  if (kind === 'merge') renderDuplicates();
  else {
    const inc = currentIncident();
    if (inc) renderText(inc);
  }
}

function confirmBox({ testid, text, okLabel, onOk }) {
  const ok = h('button.btn.btn-danger.btn-sm', { type: 'button', 'data-testid': testid + '-confirm', disabled: D.busy, onclick: onOk }, okLabel);
  const cancel = h('button.btn.btn-ghost.btn-sm', { type: 'button', 'data-testid': testid + '-cancel', onclick: cancelConfirm }, t('common.cancel'), ' ', h('kbd', 'Esc'));
  // Focus the confirm button when the confirm opens, and keep the focus where it
  // was (confirm or cancel) when a live update redraws the card.
  const active = document.activeElement;
  let refocus = null;
  if (D.confirm && !D.confirm.focused) refocus = ok;
  else if (active && active.closest && active.closest('.inline-confirm')) refocus = (active.dataset.testid || '').endsWith('-cancel') ? cancel : ok;
  if (D.confirm) D.confirm.focused = true;
  if (refocus) setTimeout(() => { if (refocus.isConnected) refocus.focus(); });
  return h('div.inline-confirm', { role: 'alertdialog', 'aria-label': text, 'data-testid': testid }, h('span.inline-confirm-text', text), ok, cancel);
}

// ---------------------------------------------------------------- duplicates card

export function renderDuplicates() {
  if (!D.els) return;
  const inc = currentIncident();
  const els = D.els;
  els.dups.classList.toggle('hidden', !D.dups.length);
  fill(els.dups, h('h2', t('detail.duplicates'), ' ', READ_ONLY || !D.dups.length ? null : h('kbd', 'm')),
    ...D.dups.map((d) => {
      const dist = inc ? distanceM(inc.location, d.location) : null;
      const confirming = D.confirm && D.confirm.kind === 'merge' && D.confirm.id === d.id;
      return h('div.dup' + (confirming ? '.confirming' : ''), { 'data-testid': 'duplicate', dataset: { incidentId: d.id, number: d.number } },
        h('div.dup-main', catBadge(d.category), prioBadge(d.priority),
          h('button.linkish.mono', { type: 'button', 'data-testid': 'duplicate-open', onclick: () => selectAndOpen('incident:' + d.id) }, d.number),
          incidentStatusChip(d.status),
          dist != null ? h('span.muted.mono', fmtDistance(dist)) : null,
          callersBadge(d.reports),
          h('div.spacer'),
          READ_ONLY || confirming ? null : h('button.btn.btn-sm', {
            type: 'button', 'data-testid': 'merge-into', dataset: { targetId: d.id }, disabled: D.busy,
            title: t('merge.into_title', { from: inc ? inc.number : '', to: d.number }),
            onclick: () => startConfirm('merge', d.id),
          }, t('merge.into'))),
        h('div.dup-summary.muted', (d.summary || '').slice(0, 120)),
        confirming ? confirmBox({
          testid: 'merge-confirm',
          text: t('merge.confirm', { from: inc ? inc.number : '', to: d.number }),
          okLabel: t('merge.do'),
          onOk: () => mergeInto(d.id),
        }) : null);
    }));
}

/** Keyboard `m`: start merging into the first listed duplicate. */
export function mergeFirstDuplicate() {
  if (READ_ONLY || !D.dups.length || D.kind !== 'incident') return;
  startConfirm('merge', D.dups[0].id);
  const card = D.els && D.els.dups;
  if (card) card.scrollIntoView({ block: 'nearest' });
}

export async function mergeInto(targetId) {
  const inc = currentIncident();
  if (!inc || READ_ONLY || D.busy) return;
  D.busy = true;
  renderDuplicates();
  try {
    const target = await api('POST', `/api/v1/incidents/${encodeURIComponent(inc.id)}/merge`, { into: targetId });
    const src = store.incidents.get(inc.id);
    if (src) src.status = 'duplicate';
    if (target && target.id) store.incidents.set(target.id, { ...(store.incidents.get(target.id) || {}), ...target });
    toast(t('toast.merged', { from: inc.number, to: (target && target.number) || '' }), 'ok');
    scheduleQueue();
    selectAndOpen('incident:' + ((target && target.id) || targetId));
  } catch {
    /* toast shown */
  } finally {
    if (D.id === inc.id) {
      D.busy = false;
      D.confirm = null;
      renderDuplicates();
    }
  }
}

// ---------------------------------------------------------------- unlink

/** The unlink control of one report (only when the incident has more than one). */
export function unlinkControl(report, reportCount) {
  if (READ_ONLY || reportCount < 2) return null;
  const confirming = D.confirm && D.confirm.kind === 'unlink' && D.confirm.id === report.id;
  if (confirming) {
    return confirmBox({ testid: 'unlink-confirm', text: t('unlink.confirm'), okLabel: t('unlink.do'), onOk: () => unlinkReport(report.id) });
  }
  return h('button.btn.btn-sm.btn-ghost', {
    type: 'button', 'data-testid': 'unlink-report', dataset: { reportId: report.id }, disabled: D.busy,
    title: t('unlink.title'), onclick: () => startConfirm('unlink', report.id),
  }, t('unlink.button'));
}

export async function unlinkReport(reportId) {
  const inc = currentIncident();
  if (!inc || READ_ONLY || D.busy) return;
  D.busy = true;
  renderText(inc);
  try {
    const created = await api('POST', `/api/v1/reports/${encodeURIComponent(reportId)}/unlink`);
    if (created && created.id) store.incidents.set(created.id, { ...(store.incidents.get(created.id) || {}), ...created });
    const cur = store.incidents.get(inc.id);
    if (cur && cur.reports > 1) cur.reports -= 1;
    toast(t('toast.unlinked', { number: (created && created.number) || '' }), 'ok');
    scheduleQueue();
    if (created && created.id) selectAndOpen('incident:' + created.id);
  } catch {
    /* toast shown */
  } finally {
    if (D.id === inc.id) {
      D.busy = false;
      D.confirm = null;
      renderText(currentIncident() || inc);
    }
  }
}
