// Shared UI helpers: element builder, toasts, header bar, badges, formatting.

import { t, tw, getLang, setLang, applyI18n, onLangChange } from './i18n.js';
import { CATEGORY_STYLE, UNIT_STATUS_COLOR } from './taxonomy.js';

/** h('div.cls#id', {attrs}, children...) — tiny DOM builder; strings become text nodes. */
export function h(spec, attrs, ...children) {
  const m = /^([a-z0-9]+)?((?:[.#][\w-]+)*)$/i.exec(spec) || [];
  const el = document.createElement(m[1] || 'div');
  for (const part of (m[2] || '').match(/[.#][\w-]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className += ' ' + v;
    else if (k === 'style' && typeof v === 'object') {
      for (const [sk, sv] of Object.entries(v)) {
        if (sk.startsWith('--')) el.style.setProperty(sk, sv);
        else el.style[sk] = sv;
      }
    }
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

/** Replace el's children, skipping null/false (unlike the native replaceChildren). */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

let toastBox;
export function toast(message, kind = 'info', ms = kind === 'error' ? 8000 : 3500) {
  if (!toastBox) {
    toastBox = h('div.toasts', { 'data-testid': 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.appendChild(toastBox);
  }
  const el = h('div.toast.toast-' + kind, { 'data-testid': 'toast', 'data-kind': kind }, message);
  el.addEventListener('click', () => el.remove());
  toastBox.appendChild(el);
  setTimeout(() => el.remove(), ms);
}

export function catBadge(category, withLabel = false) {
  const st = CATEGORY_STYLE[category] || { code: '?', color: '#999' };
  return h('span.cat', { title: tw('cat', category), dataset: { category }, style: { '--c': st.color } },
    h('span.cat-code', st.code), withLabel ? h('span.cat-label', tw('cat', category)) : null);
}

export function prioBadge(priority) {
  return h('span.prio.prio-' + priority, { title: t('prio.' + priority), dataset: { priority: String(priority) } }, 'P' + priority);
}

export function unitStatusChip(status) {
  return h('span.ustatus', { dataset: { status }, style: { '--c': UNIT_STATUS_COLOR[status] || '#999' } }, tw('ustatus', status));
}

export function incidentStatusChip(status) {
  return h('span.istatus.istatus-' + status, { 'data-testid': 'incident-status', dataset: { status } }, tw('istatus', status));
}

/** mm:ss (h:mm:ss past an hour) since an RFC 3339 time. */
export function fmtWaiting(since, now = Date.now()) {
  const s = Math.max(0, Math.floor((now - Date.parse(since)) / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const p = (n) => String(n).padStart(2, '0');
  return hh ? `${hh}:${p(mm)}:${p(ss)}` : `${p(mm)}:${p(ss)}`;
}

export function fmtTime(iso) {
  if (!iso) return t('common.none');
  const d = new Date(iso);
  return d.toLocaleTimeString(getLang() === 'id' ? 'id-ID' : 'en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

export function fmtDistance(m) {
  if (m == null) return t('common.none');
  return m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(1)} km`;
}

export function fmtEta(sec) {
  if (sec == null || !isFinite(sec)) return t('common.none');
  return sec < 90 ? `${Math.round(sec)} s` : `${Math.round(sec / 60)} min`;
}

export function fmtDuration(sec) {
  if (sec == null || !isFinite(sec)) return t('common.none');
  sec = Math.round(sec);
  if (sec < 60) return `${sec} s`;
  const m = Math.floor(sec / 60);
  const s = sec % 60;
  return m < 60 ? `${m}:${String(s).padStart(2, '0')} min` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function fmtLatLon(loc) {
  return loc ? `${loc.lat.toFixed(5)}, ${loc.lon.toFixed(5)}` : t('common.none');
}

/** Update every [data-since] element's text to the waiting time, once a second. */
export function startTimers(root = document) {
  const tick = () => {
    const now = Date.now();
    for (const el of root.querySelectorAll('[data-since]')) el.textContent = fmtWaiting(el.dataset.since, now);
  };
  tick();
  return setInterval(tick, 1000);
}

/**
 * The header bar: title, screen links allowed for the role, connection indicator,
 * language switch, user and logout. Returns {setConn(state)}.
 */
export function mountHeader({ me, current, onLogout, live = true }) {
  let header = document.querySelector('header.topbar');
  if (!header) {
    header = h('header.topbar');
    document.body.prepend(header);
  }
  header.replaceChildren();
  const links = [];
  const role = me && me.role;
  if (['call_taker', 'dispatcher', 'admin', 'supervisor'].includes(role)) {
    links.push(['console', '/console', 'nav.console'], ['map', '/map', 'nav.map']);
  }
  if (role === 'unit' || role === 'admin') links.push(['unit', '/unit', 'nav.unit']);
  const conn = h('span.conn', { 'data-testid': 'conn-indicator', dataset: { state: 'connecting' } },
    h('span.conn-dot'), h('span.conn-text', { 'data-i18n': 'conn.connecting' }, t('conn.connecting')));
  const langBtn = h('button.btn.btn-ghost.lang', {
    type: 'button', 'data-testid': 'lang-toggle', 'data-i18n-title': 'lang.switch', title: t('lang.switch'),
    onclick: () => setLang(getLang() === 'id' ? 'en' : 'id'),
  }, h('span.lang-long', { 'data-i18n': 'lang.switch' }, t('lang.switch')), h('span.lang-short', { 'data-i18n': 'lang.short' }, t('lang.short')));
  append(header, [
    h('a.brand', { href: '/' }, h('span.brand-mark', '112'), h('span.brand-text', 'Badung')),
    h('nav.nav', links.map(([k, href, key]) =>
      h('a' + (k === current ? '.active' : ''), { href, 'data-testid': 'nav-' + k, 'data-i18n': key }, t(key)))),
    h('div.spacer'),
    live ? conn : null,
    me ? h('span.who', { 'data-testid': 'who' }, `${me.name} · `, h('span', { 'data-i18n': 'role.' + me.role }, tw('role', me.role))) : null,
    langBtn,
    me ? h('button.btn.btn-ghost', { type: 'button', 'data-testid': 'logout', 'data-i18n': 'nav.logout', onclick: onLogout }, t('nav.logout')) : null,
  ]);
  return {
    setConn(state) {
      conn.dataset.state = state;
      const txt = conn.querySelector('.conn-text');
      txt.dataset.i18n = 'conn.' + state;
      txt.textContent = t('conn.' + state);
    },
  };
}

export { t, tw, applyI18n, onLangChange };
