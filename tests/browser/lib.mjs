// lib.mjs: what every browser test shares: the target, the admin token, API
// calls, sale makers, contexts that record page problems, screenshots, and the
// test registry. run.mjs holds the first tests and the runner; each file in
// specs/ adds the tests of one area with test(...).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const base = (process.argv[2] || process.env.STAMPEDE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
export const admin = process.env.STAMPEDE_ADMIN_TOKEN || '';
/** The sandbox payment gateway beside the server, whose checkout page buyers are sent to. */
export const gateway = (process.env.STAMPEDE_GATEWAY || '').replace(/\/$/, '');
export const shots = process.env.SCREENSHOT_DIR || path.resolve(here, '../../target/browser-screenshots');
export const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
export const only = process.env.ONLY || '';
mkdirSync(shots, { recursive: true });

export const PHONE = { width: 390, height: 844 };
export const run = Date.now().toString(36);
let seq = 0;
/** The contexts the running test opened: checked for problems and closed after it. */
export const opened = [];

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

export async function apiCall(method, p, body, token = admin) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try {
    data = JSON.parse(text);
  } catch {
    data = text;
  }
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return data;
}

export async function stockSale(title, extra = {}) {
  const sale = await apiCall('POST', '/api/sales', {
    kind: 'stock', title, description: 'Made by the browser tests.', stock: 20, price: 55000, currency: 'KRW',
    per_person_limit: 4, order_quantity_max: 3, hold_seconds: 300, opens_at: null, closes_at: null, ...extra,
  });
  await apiCall('POST', `/api/sales/${sale.id}/open`);
  return sale;
}

export async function dropSale(title, opensInMs) {
  return apiCall('POST', '/api/sales', {
    kind: 'drop', title, description: 'Made by the browser tests.', winners: 3,
    opens_at: new Date(Date.now() + opensInMs).toISOString(), closes_at: null,
  });
}

/** A seated sale with two sections (Floor: 5 rows of 8, straight; Balcony: 4 rows of 10, curved), opened. */
export async function seatedSale(title) {
  const sale = await apiCall('POST', '/api/sales', {
    kind: 'seated', title, description: 'Made by the browser tests.', currency: 'KRW',
    seated: {
      generate: {
        name: 'Browser Hall',
        sections: [
          { name: 'Floor', tier: 'VIP', price: 150000, colour: '#cc3333', rows: 5, seats_per_row: 8, x: 0, y: 0, curve_degrees: 0, spacing: 10 },
          { name: 'Balcony', tier: 'R', price: 90000, colour: '#3366cc', rows: 4, seats_per_row: 10, x: 0, y: 80, curve_degrees: 60, spacing: 10 },
        ],
      },
      per_person_limit: 4, seats_per_hold_max: 4, hold_seconds: 300,
    },
    opens_at: null, waiting_room: null,
  });
  await apiCall('POST', `/api/sales/${sale.id}/open`);
  return sale;
}

/** Opens a seated sale's page and waits for the live map (venue drawn, snapshot applied). */
export async function openSeatMap(page, saleId) {
  await page.goto(`${base}/sales/${saleId}`);
  await page.waitForSelector('#seatmap[data-live="true"] g.section');
}

/** A fresh browser context at phone size that fails on page errors and foreign requests. */
export async function newContext(browser, locale = 'en-US') {
  const context = await browser.newContext({ viewport: PHONE, locale, deviceScaleFactor: 1 });
  const problems = [];
  context.on('page', (page) => watch(page, problems));
  context.problems = problems;
  opened.push(context);
  return context;
}

export function watch(page, problems) {
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) problems.push(`console error: ${m.text()}`);
  });
  page.on('request', (r) => {
    const url = r.url();
    // The payment gateway's checkout page is the one other site a buyer is sent to.
    const toGateway = gateway && url.startsWith(gateway) && r.isNavigationRequest();
    if (!url.startsWith(base) && !url.startsWith('data:') && !toGateway) problems.push(`request to another origin: ${url}`);
  });
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

export async function fitsPhone(page) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(width <= PHONE.width, `${page.url()} is ${width}px wide at ${PHONE.width}px`);
}

/** What every account the tests sign up finds on its wallet, so it can pay for what it holds. */
export const WALLET_GRANT = 1000000;

/** Grants `amount` won onto user `id`'s wallet (as the admin). */
export async function grant(id, amount = WALLET_GRANT) {
  return apiCall('POST', `/api/admin/wallets/${id}/grant`, { amount, note: 'browser tests' });
}

/** Pays for a hold with the wallet, as the holder of `token`. */
export async function pay(saleId, holdId, token) {
  return apiCall('POST', `/api/sales/${saleId}/holds/${holdId}/pay`, { provider: 'wallet' }, token);
}

/**
 * Signs up a new account through the API in the context (its cookie jar is
 * the browser's) and grants it [`WALLET_GRANT`] unless `{ grant: 0 }`.
 */
export async function signUpApi(context, name, { grant: amount = WALLET_GRANT } = {}) {
  const email = `${name.toLowerCase()}-${run}-${++seq}@example.com`;
  const res = await context.request.post(`${base}/api/auth/signup`, {
    data: { email, password: 'browser-pass-1', name },
  });
  assert(res.status() === 201, `signup answered ${res.status()}: ${await res.text()}`);
  if (amount) await grant((await res.json()).user.id, amount);
  return email;
}

export const tests = [];
export function test(name, fn) {
  tests.push({ name, fn });
}

