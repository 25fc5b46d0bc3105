// `/`: paste a bearer token, check it with GET /api/v1/me, keep it in
// sessionStorage and offer the screens the role may use.

import { api, setSession, clearSession, getToken, getMe } from './api.js';
import { t, tw, applyI18n, onLangChange } from './i18n.js';
import { h, fill, mountHeader, toast } from './ui.js';

export function screensFor(role) {
  switch (role) {
    case 'call_taker':
    case 'dispatcher':
    case 'admin':
      return [['console', '/console', 'screen.console'], ['map', '/map', 'screen.map']].concat(role === 'admin' ? [['unit', '/unit', 'screen.unit']] : []);
    case 'supervisor':
      return [['map', '/map', 'screen.map'], ['console', '/console', 'screen.console_ro']];
    case 'unit':
      return [['unit', '/unit', 'screen.unit']];
    default:
      return [];
  }
}

const form = document.getElementById('login-form');
const input = document.getElementById('token');
const whoBox = document.getElementById('who');
let me = getMe();

function render() {
  mountHeader({ me, current: null, onLogout: logout, live: false });
  applyI18n(document);
  if (!me) {
    form.classList.remove('hidden');
    whoBox.classList.add('hidden');
    return;
  }
  form.classList.add('hidden');
  whoBox.classList.remove('hidden');
  document.getElementById('welcome').textContent = t('login.welcome', { name: me.name });
  document.getElementById('role').textContent = t('login.role', { role: tw('role', me.role) }) + (me.unit_id ? ` · ${me.unit_id}` : '');
  const screens = screensFor(me.role);
  const box = document.getElementById('screens');
  fill(box, ...screens.map(([k, href, key]) => h('a', { href, 'data-testid': 'screen-' + k }, t(key))));
  if (!screens.length) box.append(h('p.muted', t('login.no_screen')));
  // Came here from a page that needed a session: go back to it if the role allows.
  const next = new URLSearchParams(location.search).get('next');
  if (next && screens.some(([, href]) => next === href || next.startsWith(href + '?'))) location.replace(next);
}

function logout() {
  clearSession();
  me = null;
  input.value = '';
  history.replaceState(null, '', '/');
  render();
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const token = input.value.trim().replace(/^Bearer\s+/i, '');
  if (!token) return;
  const btn = form.querySelector('button[type=submit]');
  btn.disabled = true;
  btn.textContent = t('login.checking');
  try {
    const res = await api('GET', '/api/v1/me', undefined, { token, noRedirect: true, quiet: true });
    setSession(token, res);
    me = res;
    render();
  } catch (e) {
    toast(e.status === 401 || e.status === 403 ? t('login.invalid') : (e.message || t('toast.network')), 'error');
  } finally {
    btn.disabled = false;
    btn.textContent = t('login.submit');
  }
});

onLangChange(render);
if (me && !getToken()) me = null;
render();
if (!me) input.focus();
