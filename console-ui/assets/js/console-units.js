// Console units: the recommended units per unit type (checkboxes, preselected
// best), the dispatch action, and the units assigned to the opened incident.

import { api } from './api.js';
import { t, tw } from './i18n.js';
import { h, fill, toast, unitStatusChip, fmtDistance, fmtEta } from './ui.js';
import { store, D, READ_ONLY, currentIncident, debounce } from './console-ctx.js';
import { applyIncident, loadDetail } from './console-detail.js';
import { renderLocation } from './console-location.js';

export async function loadRecommendation() {
  const id = D.id;
  if (D.kind !== 'incident') return;
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
  renderLocation();
}

export function renderRecommendation() {
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

export function renderAssigned(inc) {
  const els = D.els;
  if (!els) return;
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

export async function dispatchSelected() {
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
