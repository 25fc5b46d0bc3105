// The live store shared by the three pages: a websocket client (hello with the
// token, snapshot or replay, reconnect with backoff and last_seq) that applies
// events to local maps of incidents, units and calls.

import { api } from './api.js';
import { INCIDENT_ACTIVE } from './taxonomy.js';

const MAX_BACKOFF_MS = 10_000;
const MAX_EVENTS = 5000;

export class Store {
  /**
   * @param {{token: string, topics: string[], onWelcome?: Function}} opts
   */
  constructor({ token, topics }) {
    this.token = token;
    this.topics = topics;
    this.incidents = new Map();
    this.units = new Map();
    this.calls = new Map();
    /** unit_id -> {incident_id, ack_deadline, acked, overdue, assigned_at} */
    this.assignments = new Map();
    /** Recent event records (for timelines and key times), oldest first. */
    this.events = [];
    this.lastSeq = null;
    this.state = 'connecting';
    this.welcome = null;
    this.ready = false;
    this.listeners = new Set();
    this.connListeners = new Set();
    this.backoff = 500;
    this.ws = null;
    this.closedByUs = false;
    this.refreshTimers = new Map();
  }

  /** fn(kind, payload): kind is 'snapshot' | 'event' | 'incident' | 'welcome'. */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onConn(fn) {
    this.connListeners.add(fn);
    fn(this.state);
    return () => this.connListeners.delete(fn);
  }

  emit(kind, payload) {
    for (const fn of this.listeners) {
      try {
        fn(kind, payload);
      } catch (e) {
        console.error(e);
      }
    }
  }

  setState(state) {
    this.state = state;
    for (const fn of this.connListeners) fn(state);
  }

  connect() {
    this.closedByUs = false;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/ws`);
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: 'hello', token: this.token, topics: this.topics, last_seq: this.lastSeq }));
    };
    ws.onmessage = (m) => {
      let msg;
      try {
        msg = JSON.parse(m.data);
      } catch {
        return;
      }
      this.handle(msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closedByUs) return;
      this.setState('reconnecting');
      const delay = this.backoff;
      this.backoff = Math.min(MAX_BACKOFF_MS, this.backoff * 2);
      setTimeout(() => this.connect(), delay + Math.random() * 250);
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  close() {
    this.closedByUs = true;
    if (this.ws) this.ws.close();
  }

  send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  handle(msg) {
    switch (msg.type) {
      case 'welcome':
        this.welcome = msg;
        this.backoff = 500;
        this.setState('live');
        // Nothing to replay and nothing to snapshot: we are up to date.
        if (this.lastSeq != null && msg.head_seq === this.lastSeq) this.markReady();
        this.emit('welcome', msg);
        break;
      case 'snapshot':
        this.applySnapshot(msg);
        break;
      case 'event':
        this.applyEvent(msg);
        break;
      case 'ping':
        this.send({ type: 'pong' });
        break;
      case 'error':
        console.warn('ws error', msg);
        this.emit('error', msg);
        if (msg.code === 'topic_forbidden' && this.topics.length > 1) {
          // Drop topics we may not read and try again with the rest.
          const bad = msg.topic;
          this.topics = bad ? this.topics.filter((tp) => tp !== bad) : this.topics.slice(0, 1);
        }
        break;
      default:
        break;
    }
  }

  markReady() {
    if (!this.ready) {
      this.ready = true;
      this.emit('ready');
    }
  }

  applySnapshot(snap) {
    this.incidents = new Map((snap.incidents || []).map((i) => [i.id, i]));
    this.units = new Map((snap.units || []).map((u) => [u.id, u]));
    this.calls = new Map((snap.calls || []).map((c) => [c.id, c]));
    for (const [uid, a] of [...this.assignments]) {
      const u = this.units.get(uid);
      if (!u || u.incident_id !== a.incident_id) this.assignments.delete(uid);
    }
    for (const u of this.units.values()) {
      if (u.incident_id && !this.assignments.has(u.id)) {
        this.assignments.set(u.id, { incident_id: u.incident_id, acked: u.status !== 'dispatched', overdue: false });
      }
    }
    this.lastSeq = snap.seq;
    this.markReady();
    this.emit('snapshot', snap);
  }

  applyEvent(rec) {
    if (this.lastSeq != null && rec.seq <= this.lastSeq) return; // already seen
    this.lastSeq = rec.seq;
    this.events.push(rec);
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
    const e = rec.event || {};
    const at = rec.at;
    const inc = (id) => this.incidents.get(id);
    const touch = (i) => {
      if (i) i.updated_at = at;
    };
    switch (e.type) {
      case 'call_updated':
        this.calls.set(e.call.id, e.call);
        if (e.call.incident_id && !this.incidents.has(e.call.incident_id)) this.refreshIncident(e.call.incident_id);
        break;
      case 'incident_created':
        this.incidents.set(e.incident.id, e.incident);
        break;
      case 'report_received': {
        const i = inc(e.report.incident_id);
        if (i) {
          // The incident_created event already counts the first report.
          touch(i);
          this.refreshIncident(i.id);
        } else this.refreshIncident(e.report.incident_id);
        break;
      }
      case 'incident_status_changed': {
        const i = inc(e.incident_id);
        if (i) {
          i.status = e.to;
          touch(i);
        } else this.refreshIncident(e.incident_id);
        break;
      }
      case 'incident_corrected': {
        const i = inc(e.incident_id);
        if (i) {
          if (e.category) {
            i.category = e.category.to;
            i.queue = e.category.to === 'general' ? 'general' : 'emergency';
          }
          if (e.priority) i.priority = e.priority.to;
          if (e.location) {
            i.location = e.location.to;
            this.refreshIncident(i.id); // district / outside_badung are derived server-side
          }
          touch(i);
        } else this.refreshIncident(e.incident_id);
        break;
      }
      case 'incident_reclassified': {
        const i = inc(e.incident_id);
        if (i) {
          i.category = e.category;
          i.queue = e.category === 'general' ? 'general' : 'emergency';
          i.priority = e.priority;
          i.confidence = e.confidence;
          i.evidence = e.evidence;
          touch(i);
        } else this.refreshIncident(e.incident_id);
        break;
      }
      case 'unit_registered':
        this.units.set(e.unit.id, { ...(this.units.get(e.unit.id) || {}), ...e.unit });
        break;
      case 'unit_status_changed': {
        const u = this.units.get(e.unit_id);
        if (u) {
          u.status = e.to;
          u.updated_at = at;
          if (e.incident_id) u.incident_id = e.incident_id;
          if (e.to === 'available' || e.to === 'out_of_service') {
            u.incident_id = null;
            this.assignments.delete(u.id);
          }
          if (['en_route', 'on_scene'].includes(e.to)) {
            const a = this.assignments.get(u.id);
            if (a) a.acked = true;
          }
        }
        break;
      }
      case 'unit_moved': {
        const u = this.units.get(e.unit_id);
        if (u) u.position = e.position;
        break;
      }
      case 'unit_assigned': {
        const u = this.units.get(e.unit_id);
        if (u) {
          u.incident_id = e.incident_id;
          u.updated_at = at;
        }
        this.assignments.set(e.unit_id, {
          incident_id: e.incident_id, ack_deadline: e.ack_deadline, acked: false, overdue: false, assigned_at: at, automatic: e.automatic,
        });
        const i = inc(e.incident_id);
        if (i) {
          if (!i.units.includes(e.unit_id)) i.units.push(e.unit_id);
          touch(i);
        } else this.refreshIncident(e.incident_id);
        break;
      }
      case 'assignment_acknowledged': {
        const a = this.assignments.get(e.unit_id);
        if (a) a.acked = true;
        break;
      }
      case 'assignment_ack_overdue': {
        const a = this.assignments.get(e.unit_id);
        if (a) a.overdue = true;
        break;
      }
      case 'assignment_released': {
        const i = inc(e.incident_id);
        if (i) {
          i.units = i.units.filter((x) => x !== e.unit_id);
          touch(i);
        }
        const u = this.units.get(e.unit_id);
        if (u && u.incident_id === e.incident_id) u.incident_id = null;
        const a = this.assignments.get(e.unit_id);
        if (a && a.incident_id === e.incident_id) this.assignments.delete(e.unit_id);
        break;
      }
      case 'report_moved':
        this.refreshIncident(e.from);
        this.refreshIncident(e.to);
        break;
      default:
        break;
    }
    this.emit('event', rec);
  }

  /** Re-read one incident over HTTP (debounced), for derived fields the events do not carry. */
  refreshIncident(id) {
    if (!id || this.refreshTimers.has(id)) return;
    // A unit may read only the incident it is on: do not ask for others (they would be 403s).
    if (this.welcome && this.welcome.role === 'unit' && !this.incidents.has(id)) return;
    this.refreshTimers.set(id, setTimeout(async () => {
      this.refreshTimers.delete(id);
      try {
        const d = await api('GET', `/api/v1/incidents/${encodeURIComponent(id)}`, undefined, { quiet: true, noRedirect: true });
        if (d && d.incident) {
          this.incidents.set(id, d.incident);
          this.emit('incident', d);
        }
      } catch {
        /* not allowed for this role, or gone: keep what we have */
      }
    }, 250));
  }

  activeIncidents() {
    return [...this.incidents.values()].filter((i) => INCIDENT_ACTIVE.includes(i.status));
  }
}
