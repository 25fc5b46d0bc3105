// Token storage and the JSON API client. Every /api call sends the bearer token;
// errors ({"error": {...}}) become ApiError and, unless quiet, a toast.

import { t } from './i18n.js';
import { toast } from './ui.js';

const TOKEN_KEY = 'bdg112.token';
const ME_KEY = 'bdg112.me';

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setSession(token, me) {
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(ME_KEY, JSON.stringify(me));
}

export function getMe() {
  try {
    return JSON.parse(sessionStorage.getItem(ME_KEY) || 'null');
  } catch {
    return null;
  }
}

export function clearSession() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ME_KEY);
}

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || 'http_' + status;
    this.field = e.field;
    this.allowed = e.allowed;
    this.incidentId = e.incident_id;
  }
}

export function errorText(err) {
  if (!(err instanceof ApiError)) return t('toast.network');
  let msg = err.message;
  if (err.code === 'unit_unavailable') msg = `${t('toast.unit_unavailable')} — ${err.message}`;
  if (err.field) msg += ` [${err.field}]`;
  if (err.allowed && err.allowed.length) msg += ` · ${t('toast.allowed', { allowed: err.allowed.join(', ') })}`;
  return `${msg} (${err.code})`;
}

/** Call the API. `opts.quiet` suppresses the error toast; `opts.token` overrides the stored token. */
export async function api(method, path, body, opts = {}) {
  const token = opts.token ?? getToken();
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    const err = new ApiError(0, { error: { code: 'network', message: t('toast.network') } });
    if (!opts.quiet) toast(t('toast.network'), 'error');
    throw err;
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if (res.status === 401 && !opts.noRedirect) {
      clearSession();
      redirectToLogin();
    }
    if (!opts.quiet) toast(errorText(err), 'error');
    throw err;
  }
  return data;
}

export function redirectToLogin() {
  const next = location.pathname + location.search;
  location.href = '/?next=' + encodeURIComponent(next);
}

/** For a page that needs a session: returns {token, me} or redirects to the login page. */
export function requireSession() {
  const token = getToken();
  const me = getMe();
  if (!token || !me) {
    redirectToLogin();
    return null;
  }
  return { token, me };
}
