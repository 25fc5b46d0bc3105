#!/usr/bin/env node
// Browser end-to-end test of console-ui against a real `dispatcher demo` server.
//
//   cd tests/browser && npm ci && node e2e.mjs
//
// Env: DISPATCHER_BIN (default <repo>/target/debug/dispatcher), DISPATCHER_UI_DIR
// (default <repo>/console-ui), CHROMIUM_BIN
// (default /usr/bin/chromium), E2E_TIMEOUT_MS (per wait, default 15000).
// Screenshots go to <repo>/tests/artifacts/browser/*.png, the server's output to
// server.log there. Prints "N passed, M failed" last; exits non-zero on failure.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const BIN = path.resolve(ROOT, process.env.DISPATCHER_BIN || 'target/debug/dispatcher');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ART = path.join(ROOT, 'tests', 'artifacts', 'browser');
const WAIT = Number(process.env.E2E_TIMEOUT_MS || 15000);
const CALLER = '+6281234567890';
const CALL_ID = 'e2e-1';
const REPEAT_CALLER = '+6281299990000';
const REPEAT_CALL_1 = 'e2e-rep-1';
const REPEAT_CALL_2 = 'e2e-rep-2';

let passed = 0;
let failed = 0;
const ctx = {}; // values shared between steps
const pageErrors = [];

function log(...a) {
  console.log(...a);
}

/** Run one named check; later checks are skipped (and counted failed) after a failure if `critical`. */
let aborted = false;
async function step(name, fn, { critical = true } = {}) {
  if (aborted) {
    failed += 1;
    log(`SKIP ${name} (an earlier step failed)`);
    return;
  }
  const t0 = Date.now();
  try {
    await fn();
    passed += 1;
    log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed += 1;
    log(`FAIL ${name}: ${(e && e.stack) || e}`);
    if (critical) aborted = true;
  }
}

async function until(what, fn, timeout = 60000, every = 100) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, every));
  }
  throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`);
}

async function http(method, urlPath, token, body) {
  const res = await fetch(ctx.info.url + urlPath, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${urlPath} -> ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

function callEvent(kind, extra = {}) {
  return http('POST', '/api/v1/calls/events', ctx.info.tokens.integrator, {
    call_id: CALL_ID, kind, caller: CALLER, at: new Date().toISOString(), ...extra,
  });
}

function repeatCallEvent(callId, kind, extra = {}) {
  return http('POST', '/api/v1/calls/events', ctx.info.tokens.integrator, {
    call_id: callId, kind, caller: REPEAT_CALLER, at: new Date().toISOString(), ...extra,
  });
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ART, `${name}.png`), fullPage: false });
}

async function newPage(context, label) {
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (e) => pageErrors.push(`[${label}] ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') log(`  [${label} console] ${m.text()}`);
  });
  return page;
}

/** Log in on `/` with a token and open one of the offered screens. */
async function login(page, token, screen) {
  await page.goto(ctx.info.url + '/');
  await page.fill('[data-testid="login-token"]', token);
  await page.click('[data-testid="login-submit"]');
  await page.waitForSelector(`[data-testid="screen-${screen}"]`);
  await Promise.all([page.waitForURL(`**/${screen}`), page.click(`[data-testid="screen-${screen}"]`)]);
  await page.waitForSelector('[data-testid="conn-indicator"][data-state="live"]');
}

async function main() {
  fs.mkdirSync(ART, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dispatcher-e2e-'));
  const infoFile = path.join(tmp, 'info.json');
  let server;
  let context;

  const cleanup = async () => {
    if (context) await context.close().catch(() => {});
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await Promise.race([
        new Promise((r) => server.once('exit', r)),
        new Promise((r) => setTimeout(r, 5000)),
      ]);
      if (server.exitCode === null) server.kill('SIGKILL');
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  };

  try {
    await step('server starts and writes info.json', async () => {
      if (!fs.existsSync(BIN)) throw new Error(`no server binary at ${BIN} (set DISPATCHER_BIN or run cargo build)`);
      const out = fs.openSync(path.join(ART, 'server.log'), 'w');
      server = spawn(BIN, ['demo', '--listen', '127.0.0.1:0', '--data-dir', path.join(tmp, 'data'), '--no-simulator', '--info-file', infoFile], {
        cwd: ROOT,
        stdio: ['ignore', out, out],
        env: { ...process.env, DISPATCHER_UI_DIR: process.env.DISPATCHER_UI_DIR || path.join(ROOT, 'console-ui') },
      });
      let exited = null;
      server.once('exit', (code, sig) => { exited = `exited with ${code ?? sig}`; });
      ctx.info = await until('info.json', () => {
        if (exited) return { fatal: `server ${exited}; see ${path.join(ART, 'server.log')}` };
        if (!fs.existsSync(infoFile)) return null;
        return JSON.parse(fs.readFileSync(infoFile, 'utf8'));
      }, 60000);
      if (ctx.info.fatal) throw new Error(ctx.info.fatal);
      if (!ctx.info.url || !ctx.info.tokens || !ctx.info.tokens.dispatcher) throw new Error('info.json lacks url/tokens: ' + JSON.stringify(ctx.info));
      log(`  server at ${ctx.info.url}`);
    });

    await step('browser launches', async () => {
      const userDataDir = fs.mkdtempSync(path.join(tmp, 'chromium-'));
      context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
          '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        viewport: { width: 1440, height: 900 },
        permissions: ['geolocation'],
        geolocation: { latitude: -8.7225, longitude: 115.1735, accuracy: 20 },
      });
    });

    await step('dispatcher logs in on / and opens the console', async () => {
      ctx.console = await newPage(context, 'console');
      const page = ctx.console;
      await page.goto(ctx.info.url + '/');
      await page.waitForSelector('[data-testid="login-token"]');
      await shot(page, '01-login');
      await login(page, ctx.info.tokens.dispatcher, 'console');
      await page.waitForSelector('[data-testid="queue"]');
      await shot(page, '02-console-empty');
    });

    await step('a ringing 112 call appears live in the queue', async () => {
      await callEvent('offered');
      await ctx.console.waitForSelector(`[data-testid="queue-row"][data-kind="call"][data-call-id="${CALL_ID}"]`);
    });

    await step('answered call with transcript becomes an incident in the queue', async () => {
      await callEvent('answered', { call_taker: 'e2e' });
      await callEvent('transcript', {
        text: 'Tolong ada kebakaran rumah di Jalan Legian dekat Beachwalk, ada orang di dalam',
        location: { lat: -8.717, lon: 115.169, accuracy_m: 15, source: 'aml' },
      });
      const row = ctx.console.locator('[data-testid="queue-row"][data-kind="incident"]', { hasText: 'Beachwalk' });
      await row.first().waitFor();
      ctx.incidentId = await row.first().getAttribute('data-incident-id');
      if (!ctx.incidentId) throw new Error('queue row without data-incident-id');
      log(`  incident ${ctx.incidentId}`);
      await shot(ctx.console, '03-console-queue');
    });

    await step('opening it shows the text, classification and evidence', async () => {
      const page = ctx.console;
      await page.click(`[data-testid="queue-row"][data-incident-id="${ctx.incidentId}"]`);
      await page.waitForSelector('[data-testid="incident-number"]');
      await page.waitForSelector('[data-testid="report-text"]');
      const text = await page.textContent('[data-testid="reports"]');
      if (!text.includes('Beachwalk')) throw new Error('report text not shown: ' + text);
      await page.waitForSelector('[data-testid="accept-classification"]:not([disabled])');
    });

    await step('accepting the classification moves the incident to triaged', async () => {
      const page = ctx.console;
      await page.click('[data-testid="accept-classification"]');
      await page.waitForSelector('.detail-head [data-testid="incident-status"][data-status="triaged"]');
      await page.waitForSelector(`[data-testid="queue-row"][data-incident-id="${ctx.incidentId}"][data-status="triaged"]`);
    });

    await step('recommended units are preselected and dispatched', async () => {
      const page = ctx.console;
      await page.waitForSelector('[data-testid="rec-unit-checkbox"]:checked');
      await page.waitForSelector('[data-testid="dispatch-button"]:not([disabled])');
      await shot(page, '04-console-incident');
      const [resp] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && r.url().includes(`/incidents/${ctx.incidentId}/dispatch`)),
        page.click('[data-testid="dispatch-button"]'),
      ]);
      const body = await resp.json();
      if (!resp.ok()) throw new Error(`dispatch failed: ${resp.status()} ${JSON.stringify(body)}`);
      const assigned = body.assigned || [];
      if (!assigned.length) throw new Error('dispatch assigned no unit: ' + JSON.stringify(body));
      ctx.unitId = assigned[0].id;
      log(`  dispatched ${assigned.map((u) => u.id).join(', ')}`);
      await page.waitForSelector(`[data-testid="assigned-unit"][data-unit-id="${ctx.unitId}"]`);
      await shot(page, '05-console-dispatched');
    });

    await step('supervisor map shows the unit as dispatched', async () => {
      ctx.map = await newPage(context, 'map');
      await login(ctx.map, ctx.info.tokens.supervisor, 'map');
      const sel = `[data-testid="unit-marker-${ctx.unitId}"]`;
      await ctx.map.waitForSelector(`${sel}[data-status="dispatched"]`);
      ctx.colorBefore = await ctx.map.$eval(`${sel} .dot`, (el) => getComputedStyle(el).backgroundColor);
      await ctx.map.waitForSelector(`[data-testid="incident-marker-${ctx.incidentId}"]`);
      await shot(ctx.map, '06-map-dispatched');
    });

    await step('unit page shows the assignment', async () => {
      const token = ctx.info.tokens.units && ctx.info.tokens.units[ctx.unitId];
      if (!token) throw new Error(`info.json has no token for unit ${ctx.unitId}`);
      ctx.unit = await newPage(context, 'unit');
      await ctx.unit.setViewportSize({ width: 412, height: 915 });
      await login(ctx.unit, token, 'unit');
      await ctx.unit.waitForSelector(`[data-testid="assignment"][data-incident-id="${ctx.incidentId}"]`);
      await ctx.unit.waitForSelector('[data-testid="unit-status"][data-status="dispatched"]');
      await shot(ctx.unit, '07-unit-assignment');
    });

    await step('unit acknowledges, goes en route, arrives on scene', async () => {
      const page = ctx.unit;
      await page.click('[data-testid="btn-ack"]:not([disabled])');
      await page.waitForSelector('[data-testid="btn-ack"][data-acked="true"]');
      await page.click('[data-testid="btn-en_route"]:not([disabled])');
      await page.waitForSelector('[data-testid="unit-status"][data-status="en_route"]');
      await page.click('[data-testid="btn-on_scene"]:not([disabled])');
      await page.waitForSelector('[data-testid="unit-status"][data-status="on_scene"]');
      await shot(page, '08-unit-on-scene');
    });

    await step('map marker changes colour live to on_scene', async () => {
      const sel = `[data-testid="unit-marker-${ctx.unitId}"]`;
      await ctx.map.waitForSelector(`${sel}[data-status="on_scene"]`);
      const after = await ctx.map.$eval(`${sel} .dot`, (el) => getComputedStyle(el).backgroundColor);
      if (after === ctx.colorBefore) throw new Error(`marker colour unchanged (${after})`);
      await shot(ctx.map, '09-map-on-scene');
    });

    await step('console shows the unit on scene', async () => {
      await ctx.console.waitForSelector(`[data-testid="assigned-unit"][data-unit-id="${ctx.unitId}"][data-status="on_scene"]`);
      await shot(ctx.console, '10-console-on-scene');
    }, { critical: false });

    await step('repeat caller: a second call from the same number shows the badge and the caller history', async () => {
      const page = ctx.console;
      const row = (id) => `[data-testid="queue-row"][data-kind="call"][data-call-id="${id}"]`;
      await repeatCallEvent(REPEAT_CALL_1, 'offered');
      await page.waitForSelector(row(REPEAT_CALL_1));
      await repeatCallEvent(REPEAT_CALL_2, 'offered');
      const badge = await page.waitForSelector(`${row(REPEAT_CALL_2)} [data-testid="repeat-caller"]`);
      const prev = await badge.getAttribute('data-previous-calls');
      if (prev !== '1') throw new Error(`second call: data-previous-calls=${prev}, expected 1`);
      if (await page.locator(`${row(REPEAT_CALL_1)} [data-testid="repeat-caller"]`).count()) throw new Error('first call must not carry the repeat badge');
      await page.click(row(REPEAT_CALL_2));
      await page.waitForSelector('[data-testid="call-detail"] [data-testid="repeat-caller"]');
      await until('two calls in the caller history', async () =>
        (await page.locator('[data-testid="caller-history"] [data-testid="caller-history-item"]').count()) === 2, WAIT);
      await shot(page, '11-console-repeat-caller');
      // The second call gets a transcript: the console follows it to the incident, which keeps the badge and history.
      await repeatCallEvent(REPEAT_CALL_1, 'ended');
      await repeatCallEvent(REPEAT_CALL_2, 'answered', { call_taker: 'e2e' });
      await repeatCallEvent(REPEAT_CALL_2, 'transcript', {
        text: 'Ayah saya pingsan tidak sadarkan diri di rumah, tolong kirim ambulans ke Mengwi',
        location: { lat: -8.5536, lon: 115.1693, accuracy_m: 20, source: 'aml' },
      });
      const incRow = await page.waitForSelector('[data-testid="queue-row"][data-kind="incident"]:has([data-testid="repeat-caller"])');
      ctx.repeatIncidentId = await incRow.getAttribute('data-incident-id');
      await page.waitForSelector('.detail-head [data-testid="incident-number"]');
      await page.waitForSelector('.detail-head [data-testid="repeat-caller"]');
      await page.waitForSelector(`[data-testid="caller-history"] [data-testid="caller-history-item"][data-call-id="${REPEAT_CALL_2}"][data-incident-id="${ctx.repeatIncidentId}"]`);
      await shot(page, '12-console-caller-history');
    }, { critical: false });

    await step('duplicates: two reports 700 m apart, merge one into the other (2 callers)', async () => {
      const page = ctx.console;
      const tok = ctx.info.tokens.integrator;
      const a = await http('POST', '/api/v1/reports', tok, {
        channel: 'app', text: 'Kecelakaan lalu lintas, motor tabrakan dengan mobil di Jalan Bypass Ngurah Rai, satu orang luka',
        location: { lat: -8.770, lon: 115.185, source: 'gnss', accuracy_m: 10 }, reporter: { phone: '+6281311112222' },
      });
      const b = await http('POST', '/api/v1/reports', tok, {
        channel: 'sms', text: 'Ada tabrakan motor dan mobil di Bypass Ngurah Rai, korban luka-luka',
        location: { lat: -8.776, lon: 115.186, source: 'gnss', accuracy_m: 10 },
      });
      if (a.id === b.id) throw new Error('the server merged the two reports automatically (expected two incidents)');
      ctx.dupA = a;
      ctx.dupB = b;
      log(`  ${a.number} (report ${a.report_id}) and ${b.number}`);
      await page.click(`[data-testid="queue-row"][data-incident-id="${a.id}"]`);
      await page.waitForFunction((n) => document.querySelector('[data-testid="incident-number"]')?.textContent === n, a.number);
      const dup = `[data-testid="duplicates"] [data-testid="duplicate"][data-incident-id="${b.id}"]`;
      await page.waitForSelector(dup);
      // Esc cancels the inline confirm without closing the incident.
      await page.click(`${dup} [data-testid="merge-into"]`);
      await page.waitForSelector('[data-testid="merge-confirm"]');
      await page.keyboard.press('Escape');
      await page.waitForSelector('[data-testid="merge-confirm"]', { state: 'detached' });
      await page.waitForSelector('[data-testid="incident-number"]');
      await page.click(`${dup} [data-testid="merge-into"]`);
      await page.waitForSelector('[data-testid="merge-confirm-confirm"]');
      await shot(page, '13-console-merge-confirm');
      const [resp] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && r.url().includes(`/incidents/${a.id}/merge`)),
        page.click('[data-testid="merge-confirm-confirm"]'),
      ]);
      if (!resp.ok()) throw new Error(`merge failed: ${resp.status()} ${await resp.text()}`);
      await page.waitForFunction((n) => document.querySelector('[data-testid="incident-number"]')?.textContent === n, b.number);
      await page.waitForSelector('[data-testid="report-count"][data-count="2"]');
      await page.waitForSelector(`[data-testid="queue-row"][data-incident-id="${b.id}"] [data-testid="callers-count"][data-count="2"]`);
      await page.waitForSelector(`[data-testid="queue-row"][data-incident-id="${a.id}"]`, { state: 'detached' });
      await page.waitForSelector('[data-testid="timeline-item"][data-type="report_moved"]');
      const src = await http('GET', `/api/v1/incidents/${a.id}`, ctx.info.tokens.dispatcher);
      if (src.incident.status !== 'duplicate') throw new Error(`merged incident is ${src.incident.status}, expected duplicate`);
      await shot(page, '14-console-merged');
    }, { critical: false });

    await step('unlink: a report of the merged incident becomes its own incident again (keyboard confirm)', async () => {
      const page = ctx.console;
      if (!ctx.dupA) throw new Error('no merged incident (previous step failed)');
      await page.click(`[data-testid="report"][data-report-id="${ctx.dupA.report_id}"] [data-testid="unlink-report"]`);
      await page.waitForFunction(() => document.activeElement?.dataset.testid === 'unlink-confirm-confirm');
      const [resp] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && r.url().includes(`/reports/${ctx.dupA.report_id}/unlink`)),
        page.keyboard.press('Enter'),
      ]);
      if (resp.status() !== 201) throw new Error(`unlink: ${resp.status()} ${await resp.text()}`);
      const created = await resp.json();
      await page.waitForFunction((n) => document.querySelector('[data-testid="incident-number"]')?.textContent === n, created.number);
      await page.waitForSelector('[data-testid="report-count"][data-count="1"]');
      await page.waitForSelector(`[data-testid="queue-row"][data-incident-id="${created.id}"]`);
      await page.waitForSelector(`[data-testid="queue-row"][data-incident-id="${ctx.dupB.id}"][data-reports="1"]`);
      await page.waitForSelector('[data-testid="timeline-item"][data-type="report_moved"]');
      await shot(page, '15-console-unlinked');
    }, { critical: false });

    await step('no uncaught page errors', async () => {
      if (pageErrors.length) throw new Error(pageErrors.join('\n'));
    }, { critical: false });
  } finally {
    await cleanup();
  }
}

const guard = setTimeout(() => {
  log('FAIL overall time limit (240 s) exceeded');
  log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
}, 240_000);

main()
  .catch((e) => {
    failed += 1;
    log(`FAIL unexpected: ${(e && e.stack) || e}`);
  })
  .finally(() => {
    clearTimeout(guard);
    log(`${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
  });
