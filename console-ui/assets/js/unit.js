// `/unit`: the field-unit feed, mobile first. Current assignment, navigation
// link, status buttons, position sharing and an audible + visual alert on a
// new assignment.

import { api, requireSession, clearSession } from './api.js';
import { t, tw, applyI18n, onLangChange } from './i18n.js';
import { Store } from './store.js';
import { h, fill, toast, mountHeader, catBadge, prioBadge, unitStatusChip, incidentStatusChip, fmtTime, fmtLatLon } from './ui.js';

const session = requireSession();
const me = session ? session.me : null;
const unitId = me ? me.unit_id || new URLSearchParams(location.search).get('unit') : null;

const header = mountHeader({ me, current: 'unit', onLogout: () => { clearSession(); location.href = '/'; } });
applyI18n(document);

const page = document.getElementById('unitpage');
const assignEl = document.getElementById('assignment');
const buttonsEl = document.getElementById('buttons');
const soundBtn = document.getElementById('sound');

const store = new Store({ token: session && session.token, topics: unitId ? ['unit:' + unitId, 'map'] : ['map'] });
store.onConn((s) => header.setConn(s));

let lastIncidentId; // undefined until the first state is known
let busy = false;
let flashUntil = 0;

// ------------------------------------------------------------ sound

let audio = null;
function ensureAudio() {
  if (!audio) {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    audio = new Ctx();
  }
  if (audio.state === 'suspended') audio.resume().catch(() => {});
  return audio;
}

function updateSoundBanner() {
  soundBtn.classList.toggle('hidden', !!audio && audio.state === 'running');
}

soundBtn.addEventListener('click', () => {
  ensureAudio();
  setTimeout(updateSoundBanner, 100);
});
document.addEventListener('pointerdown', () => {
  ensureAudio();
  setTimeout(updateSoundBanner, 100);
}, { once: true });

/** Three rising beeps generated with WebAudio (no sound file). */
export function beep() {
  const ctx = ensureAudio();
  if (!ctx) return;
  const t0 = ctx.currentTime + 0.02;
  [880, 1100, 1320].forEach((f, i) => {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'square';
    osc.frequency.value = f;
    const s = t0 + i * 0.28;
    gain.gain.setValueAtTime(0.0001, s);
    gain.gain.exponentialRampToValueAtTime(0.25, s + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, s + 0.22);
    osc.connect(gain).connect(ctx.destination);
    osc.start(s);
    osc.stop(s + 0.25);
  });
  if (navigator.vibrate) navigator.vibrate([200, 100, 200, 100, 400]);
}

function alertNewAssignment() {
  beep();
  flashUntil = Date.now() + 6000;
  assignEl.classList.remove('flash');
  void assignEl.offsetWidth; // restart the animation
  assignEl.classList.add('flash');
}

// ------------------------------------------------------------ render

function unit() {
  return unitId ? store.units.get(unitId) : null;
}

function render() {
  const u = unit();
  document.getElementById('callsign').textContent = u ? u.call_sign : unitId || t('unit.not_unit');
  document.getElementById('station').textContent = u ? `${unitId} · ${tw('utype', u.unit_type)} · ${u.station}` : '';
  fill(document.getElementById('ustatus'), u ? h('span', { 'data-testid': 'unit-status', dataset: { status: u.status } }, unitStatusChip(u.status)) : '');

  const incId = u && u.incident_id;
  const inc = incId ? store.incidents.get(incId) : null;
  if (incId && !inc) store.refreshIncident(incId);
  const a = u ? store.assignments.get(u.id) : null;
  const acked = !!(a && a.incident_id === incId && a.acked) || (u && u.status !== 'dispatched');

  if (!incId) {
    assignEl.dataset.state = 'none';
    fill(assignEl, h('div', { 'data-testid': 'no-assignment', style: { fontSize: '20px', textAlign: 'center', padding: '18px 0' } }, t('unit.no_assignment')));
  } else {
    assignEl.dataset.state = acked ? 'acknowledged' : 'new';
    const loc = inc && inc.location;
    const place = loc ? loc.label || fmtLatLon(loc) : t('detail.no_location');
    fill(assignEl, 
      !acked ? h('div.assign-banner', { 'data-testid': 'new-assignment-banner' }, t('unit.new_assignment')) : null,
      h('div.assign-title', { 'data-testid': 'assignment' , dataset: { incidentId: incId } },
        inc ? catBadge(inc.category) : null, inc ? prioBadge(inc.priority) : null,
        h('span', inc ? tw('cat', inc.category) : incId),
        inc ? incidentStatusChip(inc.status) : null),
      h('div.muted.mono', { 'data-testid': 'assignment-number' }, inc ? inc.number : incId),
      h('div.assign-place', { 'data-testid': 'assignment-place' }, place),
      inc && inc.district ? h('div.muted', tw('dist', inc.district)) : null,
      inc && inc.summary ? h('div', h('h2', { style: { marginTop: '14px' } }, t('unit.summary')), h('div.assign-summary', { 'data-testid': 'assignment-summary' }, inc.summary)) : null,
      a && !acked && a.ack_deadline ? h('div.warn-line', t('unit.ack_by', { time: fmtTime(a.ack_deadline) })) : null,
      loc ? h('a.btn.btn-primary.btn-big.nav-link', { href: `geo:${loc.lat},${loc.lon}`, 'data-testid': 'nav-link' }, t('unit.navigate')) : null,
    );
    if (Date.now() < flashUntil) assignEl.classList.add('flash');
  }

  const st = u ? u.status : null;
  const can = {
    acknowledged: !!incId && st === 'dispatched' && !acked,
    en_route: !!incId && st === 'dispatched',
    on_scene: !!incId && (st === 'dispatched' || st === 'en_route'),
    returning: st === 'en_route' || st === 'on_scene',
    available: st === 'on_scene' || st === 'returning' || st === 'out_of_service' || (st === 'en_route' && !incId),
  };
  const btn = (status, key, cls, testid) => h('button.btn' + cls, {
    type: 'button', 'data-testid': testid, dataset: { status, current: String(st === status) },
    disabled: busy || !can[status], onclick: () => report(status),
  }, t(key));
  fill(buttonsEl, 
    h('button.btn.btn-ack', {
      type: 'button', 'data-testid': 'btn-ack', dataset: { status: 'acknowledged', acked: String(!!incId && acked) },
      disabled: busy || !can.acknowledged, onclick: () => report('acknowledged'),
    }, incId && acked ? '✓ ' + t('unit.acked') : t('unit.ack')),
    btn('en_route', 'unit.en_route', '', 'btn-en_route'),
    btn('on_scene', 'unit.on_scene', '', 'btn-on_scene'),
    btn('returning', 'unit.returning', '', 'btn-returning'),
    btn('available', 'unit.available', '', 'btn-available'),
  );
  renderShare();
  updateSoundBanner();
}

async function report(status) {
  const u = unit();
  if (!u || busy) return;
  busy = true;
  render();
  try {
    const res = await api('POST', `/api/v1/units/${encodeURIComponent(u.id)}/status`, { status });
    if (res && res.id) store.units.set(res.id, { ...store.units.get(res.id), ...res });
    if (status === 'acknowledged') {
      const a = store.assignments.get(u.id);
      if (a) a.acked = true;
      else store.assignments.set(u.id, { incident_id: u.incident_id, acked: true });
    }
  } catch {
    /* toast shown */
  } finally {
    busy = false;
    render();
  }
}

// ------------------------------------------------------------ position sharing

const SHARE_KEY = 'bdg112.share';
const MIN_INTERVAL_MS = 5000;
const share = { watchId: null, lastSentAt: 0, pending: null, timer: null, error: null, lastSent: null };

function shareWanted() {
  return localStorage.getItem(SHARE_KEY) !== 'off';
}

function startSharing() {
  localStorage.setItem(SHARE_KEY, 'on');
  if (share.watchId != null || !navigator.geolocation || !unitId) {
    if (!navigator.geolocation) share.error = t('unit.share_error');
    renderShare();
    return;
  }
  share.watchId = navigator.geolocation.watchPosition(onPosition, (err) => {
    share.error = `${t('unit.share_error')} (${err.message || err.code})`;
    renderShare();
  }, { enableHighAccuracy: true, maximumAge: 5000, timeout: 30000 });
  renderShare();
}

function stopSharing() {
  localStorage.setItem(SHARE_KEY, 'off');
  if (share.watchId != null) navigator.geolocation.clearWatch(share.watchId);
  share.watchId = null;
  clearTimeout(share.timer);
  share.timer = null;
  share.pending = null;
  renderShare();
}

function onPosition(p) {
  share.error = null;
  const c = p.coords;
  const body = { lat: c.latitude, lon: c.longitude, at: new Date(p.timestamp || Date.now()).toISOString() };
  if (c.accuracy != null && isFinite(c.accuracy)) body.accuracy_m = Math.min(100000, c.accuracy);
  if (c.heading != null && isFinite(c.heading)) body.heading_deg = c.heading;
  if (c.speed != null && isFinite(c.speed)) body.speed_mps = Math.min(150, c.speed);
  share.pending = body;
  const wait = share.lastSentAt + MIN_INTERVAL_MS - Date.now();
  if (wait <= 0) sendPosition();
  else if (!share.timer) share.timer = setTimeout(sendPosition, wait);
}

async function sendPosition() {
  clearTimeout(share.timer);
  share.timer = null;
  const body = share.pending;
  if (!body || !unitId) return;
  share.pending = null;
  share.lastSentAt = Date.now();
  try {
    const res = await api('POST', `/api/v1/units/${encodeURIComponent(unitId)}/position`, body, { quiet: true });
    share.lastSent = body.at;
    share.error = null;
    if (res && res.id) store.units.set(res.id, { ...store.units.get(res.id), ...res });
  } catch (e) {
    share.error = e.message;
  }
  renderShare();
}

function renderShare() {
  const on = share.watchId != null;
  const stateEl = document.getElementById('share-state');
  stateEl.textContent = on ? t('unit.share_on') : t('unit.share_off');
  stateEl.dataset.state = on ? 'on' : 'off';
  document.getElementById('share-detail').textContent = share.error
    ? share.error
    : share.lastSent ? t('unit.last_sent', { time: fmtTime(share.lastSent) }) : '';
  const b = document.getElementById('share-btn');
  b.textContent = on ? t('unit.share_stop') : t('unit.share_start');
  b.onclick = on ? stopSharing : startSharing;
}

// ------------------------------------------------------------ live

function checkNewAssignment() {
  const u = unit();
  if (!u || !store.ready) return;
  const cur = u.incident_id || null;
  if (lastIncidentId !== undefined && cur && cur !== lastIncidentId) alertNewAssignment();
  lastIncidentId = cur;
}

store.subscribe((kind, payload) => {
  if (kind === 'event') {
    const e = payload.event || {};
    if (e.type === 'unit_moved' && e.unit_id !== unitId) return;
    if (e.type === 'unit_assigned' && e.unit_id === unitId) {
      store.refreshIncident(e.incident_id);
      if (lastIncidentId !== e.incident_id) {
        lastIncidentId = e.incident_id;
        alertNewAssignment();
      }
    }
  }
  checkNewAssignment();
  render();
});

onLangChange(render);

async function httpBootstrap() {
  if (!unitId) return;
  try {
    const units = await api('GET', '/api/v1/units', undefined, { quiet: true });
    if (store.ready) return;
    for (const u of units || []) store.units.set(u.id, u);
    const u = store.units.get(unitId);
    if (u && u.incident_id) store.refreshIncident(u.incident_id);
    render();
  } catch {
    /* the socket will fill in */
  }
}

if (session) {
  if (!unitId) toast(t('unit.not_unit'), 'error');
  render();
  store.connect();
  httpBootstrap();
  if (shareWanted()) startSharing();
  page.dataset.ready = 'true';
}
