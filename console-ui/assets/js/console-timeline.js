// Console timeline: the opened incident's events (from the detail fetch plus
// the live ones since), newest first, each with a readable label in the
// current language.

import { t, tw } from './i18n.js';
import { h, fill, fmtTime, fmtLatLon } from './ui.js';
import { store, D, eventIncidentIds, incidentNumber } from './console-ctx.js';

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
    case 'report_moved': {
      const from = incidentNumber(e.from);
      const to = incidentNumber(e.to);
      if (D.id === e.to) return t('ev.report_moved_in', { from });
      if (D.id === e.from) return t('ev.report_moved_out', { to });
      return t('ev.report_moved', { from, to });
    }
    case 'unit_moved': return t('ev.unit_moved', { unit: unit(e.unit_id) });
    case 'unit_registered': return t('ev.unit_registered', { unit: e.unit.call_sign });
    default: return e.type || '?';
  }
}

export function renderTimeline() {
  const els = D.els;
  if (!els) return;
  const tl = D.detail ? [...(D.detail.timeline || [])] : [];
  const seen = new Set(tl.map((r) => r.seq));
  for (const r of store.events) if (!seen.has(r.seq) && eventIncidentIds(r.event).includes(D.id)) tl.push(r);
  tl.sort((a, b) => b.seq - a.seq);
  fill(els.timeline, h('h2', t('detail.timeline')),
    tl.length ? h('ol.timeline', tl.map((r) => h('li', { 'data-testid': 'timeline-item', dataset: { type: r.event.type } },
      h('time', { datetime: r.at }, fmtTime(r.at)),
      h('div', describe(r), ' ', h('span.actor', `· ${r.actor ? r.actor.name : ''}`))))) : h('div.muted', t('common.loading')));
}
