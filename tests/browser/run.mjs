// run.mjs: Stampede's browser tests. Drives Debian's headless chromium with
// playwright-core (no browser download) against a running server:
//
//   STAMPEDE_ADMIN_TOKEN=... node tests/browser/run.mjs http://127.0.0.1:8080
//
// The admin token lets the script make its own sales through the API. Every
// page runs at phone size (390 x 844); screenshots of the key pages go to
// target/browser-screenshots/ (or $SCREENSHOT_DIR). Any page error, failed
// script, or request to another origin fails the test it happens in.
// Prints one line per test and ends with "N passed, N failed"; exits 1 on a failure.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const base = (process.argv[2] || process.env.STAMPEDE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const admin = process.env.STAMPEDE_ADMIN_TOKEN || '';
const shots = process.env.SCREENSHOT_DIR || path.resolve(here, '../../target/browser-screenshots');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const only = process.env.ONLY || '';
mkdirSync(shots, { recursive: true });

const PHONE = { width: 390, height: 844 };
const run = Date.now().toString(36);
let seq = 0;
/** The contexts the running test opened: checked for problems and closed after it. */
let opened = [];

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function apiCall(method, p, body, token = admin) {
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

async function stockSale(title, extra = {}) {
  const sale = await apiCall('POST', '/api/sales', {
    kind: 'stock', title, description: 'Made by the browser tests.', stock: 20, price: 55000, currency: 'KRW',
    per_person_limit: 4, order_quantity_max: 3, hold_seconds: 300, opens_at: null, closes_at: null, ...extra,
  });
  await apiCall('POST', `/api/sales/${sale.id}/open`);
  return sale;
}

async function dropSale(title, opensInMs) {
  return apiCall('POST', '/api/sales', {
    kind: 'drop', title, description: 'Made by the browser tests.', winners: 3,
    opens_at: new Date(Date.now() + opensInMs).toISOString(), closes_at: null,
  });
}

/** A fresh browser context at phone size that fails on page errors and foreign requests. */
async function newContext(browser, locale = 'en-US') {
  const context = await browser.newContext({ viewport: PHONE, locale, deviceScaleFactor: 1 });
  const problems = [];
  context.on('page', (page) => watch(page, problems));
  context.problems = problems;
  opened.push(context);
  return context;
}

function watch(page, problems) {
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) problems.push(`console error: ${m.text()}`);
  });
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(base) && !url.startsWith('data:')) problems.push(`request to another origin: ${url}`);
  });
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

async function fitsPhone(page) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(width <= PHONE.width, `${page.url()} is ${width}px wide at ${PHONE.width}px`);
}

/** Signs up a new account through the API in the context (its cookie jar is the browser's). */
async function signUpApi(context, name) {
  const email = `${name.toLowerCase()}-${run}-${++seq}@example.com`;
  const res = await context.request.post(`${base}/api/auth/signup`, {
    data: { email, password: 'browser-pass-1', name },
  });
  assert(res.status() === 201, `signup answered ${res.status()}: ${await res.text()}`);
  return email;
}

const tests = [];
function test(name, fn) {
  tests.push({ name, fn });
}

test('sign up, log out, log in; unknown account and wrong password shown inline', async (browser) => {
  const context = await newContext(browser);
  const page = await context.newPage();
  const email = `kim-${run}@example.com`;
  await page.goto(`${base}/signup`);
  await page.fill('#name', 'Kim Browser');
  await page.fill('#email', email);
  await page.fill('#password', 'short');
  await page.click('#submit');
  await page.waitForSelector('#form-error:not([hidden])');
  assert((await page.textContent('#form-error')).includes('8 to 128'), 'a short password is refused before sending');
  await page.fill('#password', 'browser-pass-1');
  await shot(page, 'signup');
  await Promise.all([page.waitForURL(`${base}/`), page.click('#submit')]);
  assert((await page.textContent('#nav-user')).trim() === 'Kim Browser', 'signed in after sign-up');
  await fitsPhone(page);
  await shot(page, 'home-signed-in');

  await Promise.all([page.waitForURL(`${base}/`), page.click('#nav-logout')]);
  assert(await page.isVisible('#nav-login'), 'logged out: the log-in link is back');

  await page.goto(`${base}/login`);
  await page.fill('#email', `nobody-${run}@example.com`);
  await page.fill('#password', 'whatever-1');
  await page.click('#submit');
  await page.waitForSelector('#form-error:not([hidden])');
  const unknown = await page.textContent('#form-error');
  assert(unknown.includes('There is no account with that email.'), `unknown account message: ${unknown}`);
  assert((await page.getAttribute('#error-link', 'href')).startsWith('/signup'), 'offers to sign up');
  await shot(page, 'login-unknown-account');

  await page.fill('#email', email);
  await page.fill('#password', 'wrong-pass-1');
  await page.click('#submit');
  await page.waitForFunction(() => document.querySelector('#form-error').textContent.includes('password is wrong'));

  await page.fill('#password', 'browser-pass-1');
  await Promise.all([page.waitForURL(`${base}/`), page.click('#submit')]);
  assert((await page.textContent('#nav-user')).trim() === 'Kim Browser', 'logged in again');
  return context;
});

test('buy from a stock sale: hold, the timer runs, confirm, see it on my page; cancel a hold there', async (browser) => {
  const sale = await stockSale(`Browser festival pass ${run}`);
  const context = await newContext(browser);
  await signUpApi(context, 'Lee');
  const page = await context.newPage();
  await page.goto(`${base}/sales/${sale.id}`);
  assert((await page.textContent('#price')).includes('₩55,000'), 'price in won, no decimals');
  assert((await page.textContent('#stock-available')).trim() === '20', 'stock shown');
  await page.click('#qty-plus');
  assert((await page.textContent('#subtotal')).includes('₩110,000'), 'subtotal for 2');
  await page.click('#hold-button');
  await page.waitForSelector('#hold-panel:not([hidden])');
  const t1 = (await page.textContent('#hold-timer')).trim();
  assert(/^[45]:\d\d$/.test(t1), `hold timer shows minutes:seconds, got ${t1}`);
  await page.waitForFunction((first) => document.querySelector('#hold-timer').textContent.trim() !== first, t1, { timeout: 3000 });
  await page.waitForFunction(() => document.querySelector('#stock-available').textContent.trim() === '18', null, { timeout: 5000 });
  await fitsPhone(page);
  await shot(page, 'stock-hold');

  await page.click('#confirm-button');
  await page.waitForSelector('#order-panel:not([hidden])');
  const order = await page.textContent('#order-text');
  assert(/Order #\d+ confirmed: 2 for ₩110,000/.test(order), `order text: ${order}`);
  await shot(page, 'stock-confirmed');

  // A second hold, cancelled from my page.
  await page.click('#buy-again');
  await page.click('#hold-button');
  await page.waitForSelector('#hold-panel:not([hidden])');
  await page.goto(`${base}/me`);
  assert((await page.textContent('#my-orders')).includes(`Browser festival pass ${run}`), 'the order is on my page');
  assert((await page.textContent('#my-orders')).includes('Confirmed'), 'the order is confirmed');
  const holdRow = page.locator('#my-holds li.row');
  assert((await holdRow.count()) === 1, 'one hold waiting');
  await page.waitForFunction(() => /^\d+:\d\d$/.test(document.querySelector('#my-holds [data-countdown-us]').textContent.trim()));
  await fitsPhone(page);
  await shot(page, 'me');
  await Promise.all([page.waitForNavigation(), holdRow.locator('button[data-action="cancel"]').click()]);
  await page.waitForSelector('#me-message:not([hidden])');
  assert((await page.textContent('#me-message')).includes('cancelled'), 'cancel confirmed by a message');
  assert((await page.locator('#my-holds li.row').count()) === 0, 'no hold left');
  return context;
});

test('a sold-out stock sale says so and cannot be held', async (browser) => {
  const sale = await stockSale(`Browser tiny sale ${run}`, { stock: 1, order_quantity_max: 1 });
  const buyer = await apiCall('POST', '/api/admin/users/bulk', { count: 1, name_prefix: 'soldout' });
  await apiCall('POST', `/api/sales/${sale.id}/holds`, { quantity: 1 }, buyer.users[0].token);
  const context = await newContext(browser);
  await signUpApi(context, 'Park');
  const page = await context.newPage();
  await page.goto(`${base}/sales/${sale.id}`);
  await page.waitForSelector('#stock-message:not([hidden])');
  assert((await page.textContent('#stock-message')).includes('Sold out'), 'sold-out message');
  assert(await page.isDisabled('#hold-button'), 'hold button disabled');
  return context;
});

test('click a drop: countdown on the server clock, then the rank and milliseconds, and the leaderboard', async (browser) => {
  const context = await newContext(browser);
  await signUpApi(context, 'Choi');
  const sale = await dropSale(`Browser drop ${run}`, 8000);
  const page = await context.newPage();
  await page.goto(`${base}/sales/${sale.id}`);
  await page.waitForFunction(() => document.querySelector('#countdown-label').textContent.includes('Opens in'));
  assert(/^\d\d:\d\d:\d\d\.\d$/.test((await page.textContent('#countdown-value')).trim()), 'countdown with tenths');
  assert(await page.isDisabled('#drop-button'), 'the button waits for the opening');
  await page.waitForFunction(() => document.querySelector('#clock-note').textContent.includes('ms'));
  await fitsPhone(page);
  await shot(page, 'drop-countdown');
  await page.waitForSelector('#drop-button:not([disabled])', { timeout: 15000 });
  await page.click('#drop-button');
  await page.waitForSelector('#click-result:not([hidden])');
  const rank = await page.textContent('#click-rank');
  assert(rank.includes('#1'), `first clicker ranks #1: ${rank}`);
  assert(/\d+\.\d{3} ms after opening/.test(await page.textContent('#click-ms')), 'milliseconds after opening');
  assert((await page.textContent('#click-outcome')).includes('You won'), 'rank 1 of 3 wins');
  await page.waitForSelector('#leaderboard-body tr.me', { timeout: 5000 });
  assert((await page.textContent('#leaderboard-body tr.me')).includes('Winner'), 'my row in the leaderboard');
  await shot(page, 'drop-result');
  return context;
});

test('ko/en switch changes the texts and is remembered across a reload; Accept-Language decides first', async (browser) => {
  const context = await newContext(browser, 'en-US');
  const page = await context.newPage();
  await page.goto(`${base}/`);
  assert((await page.textContent('h1')).trim() === 'Sales', 'English by Accept-Language');
  assert((await page.textContent('#nav-login')).trim() === 'Log in', 'English nav');
  await Promise.all([page.waitForNavigation(), page.click('#lang-ko')]);
  assert((await page.getAttribute('html', 'lang')) === 'ko', 'html lang=ko');
  assert((await page.textContent('h1')).trim() === '판매', 'Korean heading');
  assert((await page.textContent('#nav-login')).trim() === '로그인', 'Korean nav');
  await page.reload();
  assert((await page.textContent('h1')).trim() === '판매', 'Korean remembered across a reload');
  await fitsPhone(page);
  await shot(page, 'home-ko');
  await page.goto(`${base}/login`);
  await page.fill('#email', `nobody-${run}@example.com`);
  await page.fill('#password', 'whatever-1');
  await page.click('#submit');
  await page.waitForSelector('#form-error:not([hidden])');
  assert((await page.textContent('#form-error')).includes('가입된 계정이 없습니다'), 'Korean error message');
  await shot(page, 'login-ko');
  await Promise.all([page.waitForNavigation(), page.click('#lang-en')]);
  assert((await page.textContent('h1')).trim() === 'Log in', 'back to English on the same page');
  await shot(page, 'login-en');

  const korean = await newContext(browser, 'ko-KR');
  const kpage = await korean.newPage();
  await kpage.goto(`${base}/`);
  assert((await kpage.textContent('h1')).trim() === '판매', 'Korean by Accept-Language');
  return context;
});

test('an unknown sale is a human 404 page', async (browser) => {
  const context = await newContext(browser);
  const page = await context.newPage();
  const res = await page.goto(`${base}/sales/987654321`);
  assert(res.status() === 404, `status ${res.status()}`);
  assert((await page.textContent('h1')).includes('Page not found'), 'a page, not JSON');
  await shot(page, 'not-found');
  return context;
});

const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
let passed = 0;
let failed = 0;
try {
  if (!admin) throw new Error('set STAMPEDE_ADMIN_TOKEN to the server\'s operator token (the tests make their own sales)');
  await apiCall('GET', '/readyz');
  for (const { name, fn } of tests) {
    if (only && !name.includes(only)) continue;
    const started = Date.now();
    opened = [];
    try {
      await fn(browser);
      const problems = opened.flatMap((c) => c.problems);
      if (problems.length) throw new Error(problems.join('\n'));
      passed++;
      console.log(`ok   ${name} (${Date.now() - started} ms)`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}\n     ${String(e?.stack || e).split('\n').join('\n     ')}`);
    } finally {
      for (const c of opened) await c.close().catch(() => {});
    }
  }
} catch (e) {
  failed++;
  console.log(`FAIL setup: ${e?.message || e}`);
} finally {
  await browser.close();
}
console.log(`screenshots: ${shots}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
