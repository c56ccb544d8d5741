// queue.mjs: the waiting room after admission (what a pass is good for, and
// the page once it ended), the room's small layout faults at 390 px, and the
// header and panels every page shares.
import {
  apiCall, assert, base, fitsPhone, newContext, run, shot, signUpApi, stockSale, test,
} from '../lib.mjs';

/** Words of the waiting room's boxes that the layout broke across two lines ("openin / g"). */
async function brokenWords(page) {
  return page.evaluate(() => {
    const bad = [];
    for (const el of document.querySelectorAll('.queue-stats dt, .queue-stats dd, .queue-big dt, .queue-big dd')) {
      if (el.offsetParent === null) continue;
      if (el.scrollWidth > el.clientWidth + 1) bad.push(`"${el.textContent}" overflows its box`);
      for (const node of el.childNodes) {
        if (node.nodeType !== Node.TEXT_NODE) continue;
        let at = 0;
        for (const word of node.textContent.split(' ')) {
          if (word) {
            const r = document.createRange();
            r.setStart(node, at);
            r.setEnd(node, at + word.length);
            const lines = new Set([...r.getClientRects()].map((x) => Math.round(x.top)));
            if (lines.size > 1) bad.push(`"${word}" of "${el.textContent}" is split`);
          }
          at += word.length + 1;
        }
      }
    }
    return bad;
  });
}

async function visibleText(page, selector) {
  return (await page.isVisible(selector)) ? (await page.textContent(selector)).trim() : '';
}

async function holdAndPay(page, saleId) {
  await page.waitForSelector('#hold-form:not([hidden])');
  const [held] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/api/sales/${saleId}/holds`) && r.request().method() === 'POST'),
    page.click('#hold-button'),
  ]);
  assert(held.status() === 201, `hold answered ${held.status()}: ${await held.text()}`);
  await page.waitForSelector('#hold-panel:not([hidden])');
  await page.click('#confirm-button');
  await page.waitForSelector('#order-panel:not([hidden])');
}

test('queue page: a pass is good up to the per-person limit; the page says what is left, until when, and once it ended that the line cannot be joined again', async (browser) => {
  const sale = await stockSale(`Browser pass for two ${run}`, {
    per_person_limit: 2, order_quantity_max: 1,
    waiting_room: { policy: 'active', active_max: 1000, pass_seconds: 300, pow_bits: 0 },
  });
  const context = await newContext(browser);
  await signUpApi(context, 'Song');
  const page = await context.newPage();
  await page.goto(`${base}/sales/${sale.id}`);
  await page.waitForFunction(() => document.querySelector('#queue-joined').textContent.trim() === '0');
  await page.click('#queue-join');
  await page.waitForSelector('#queue-admitted:not([hidden])', { timeout: 15000 });
  let allows = await visibleText(page, '#queue-pass-allows');
  assert(allows.includes('2 more') && allows.includes('at most 2 per person'), `before buying: ${allows}`);
  const until = await visibleText(page, '#queue-pass-until');
  assert(/^\(until .*\d.*\)$/.test(until), `the pass says until when: ${until}`);

  await holdAndPay(page, sale.id);
  // One of two bought: the pass goes on, and the page says so.
  await page.waitForFunction(() => document.querySelector('#queue-pass-allows').textContent.includes('1 more'), null, { timeout: 5000 });
  assert(await page.isVisible('#queue-admitted'), 'the pass is still shown as live');
  assert(await page.isVisible('#buy-again'), '"Buy more" is offered while the pass allows more');
  assert(await page.isHidden('#queue-ended'), 'no end notice yet');
  await fitsPhone(page);
  await shot(page, 'queue-pass-one-of-two');

  // "Buy more" works with the same pass.
  await page.click('#buy-again');
  await holdAndPay(page, sale.id);
  await page.waitForSelector('#queue-ended:not([hidden])', { timeout: 5000 });
  const ended = (await page.textContent('#queue-ended')).replace(/\s+/g, ' ');
  assert(ended.includes('You bought 2 of 2') && ended.includes('Your pass has ended'), `why it ended: ${ended}`);
  assert(ended.includes('cannot join this line again'), `whether one can rejoin: ${ended}`);
  assert(await page.isHidden('#queue-admitted'), 'no pass timer after the pass ended');
  assert(await page.isHidden('#buy-again'), 'no "Buy more" after the pass ended');
  assert(await page.isHidden('#hold-form'), 'no buying form after the pass ended');
  assert(await page.isVisible('#queue-to-me'), 'a way on: my page');
  assert(await page.isHidden('#queue-big') && await page.isHidden('#queue-state'), 'no "your turn" or position after the pass ended');
  await fitsPhone(page);
  await shot(page, 'queue-pass-ended');

  // The same account in Korean, after a reload: the page still tells the truth.
  await page.goto(`${base}/lang/ko?next=/sales/${sale.id}`);
  await page.waitForSelector('#queue-ended:not([hidden])', { timeout: 5000 });
  const ko = (await page.textContent('#queue-ended')).replace(/\s+/g, ' ');
  assert(ko.includes('2개를 샀습니다') && ko.includes('다시 설 수 없습니다'), `in Korean: ${ko}`);
  assert(await page.isHidden('#hold-form') && await page.isHidden('#queue-admitted'), 'nothing to buy after a reload');
  await fitsPhone(page);
  await shot(page, 'queue-pass-ended-ko');
  return context;
});

test('queue page: at 390 px the boxes break only between words, and admission without a reload turns "Opens" into "Opened" and drops "keep this page open"', async (browser) => {
  const people = [];
  for (const [locale, name] of [['en-US', 'Yoon'], ['ko-KR', 'Jang']]) {
    const context = await newContext(browser, locale);
    await signUpApi(context, name);
    people.push([locale, context]);
  }
  // Opens a few seconds from now: both join the pre-queue first, then are let in live.
  const opensAt = Date.now() + 8000;
  const sale = await apiCall('POST', '/api/sales', {
    kind: 'stock', title: `Browser room opening ${run}`, description: 'Made by the browser tests.', stock: 20, price: 55000,
    currency: 'KRW', per_person_limit: 2, order_quantity_max: 1, hold_seconds: 300,
    opens_at: new Date(opensAt).toISOString(), closes_at: null,
    waiting_room: { policy: 'active', active_max: 1000, pass_seconds: 300, pow_bits: 0, places_per_address: 1000 },
  });
  const pages = [];
  for (const [locale, context] of people) {
    const page = await context.newPage();
    await page.goto(`${base}/sales/${sale.id}`);
    await page.waitForFunction(() => document.querySelector('#queue-joined').textContent.trim() !== '–');
    await page.click('#queue-join');
    await page.waitForSelector('#queue-mine:not([hidden])');
    await page.waitForFunction(() => /\p{L}/u.test(document.querySelector('#queue-place').textContent));
    const broken = await brokenWords(page);
    assert(broken.length === 0, `${locale}: ${broken.join('; ')}`);
    assert(await page.isVisible('#queue-keep'), `${locale}: while waiting, keep this page open`);
    await fitsPhone(page);
    await shot(page, `queue-prequeue-${locale}`);
    pages.push([locale, page]);
  }
  const label = { 'en-US': ['Opens', 'Opened', 'Open'], 'ko-KR': ['오픈 예정', '오픈', '판매 중'] };
  for (const [locale, page] of pages) {
    assert((await page.textContent('#opens-label')).trim() === label[locale][0], `${locale}: before opening`);
  }
  for (const [locale, page] of pages) {
    await page.waitForSelector('#queue-admitted:not([hidden])', { timeout: Math.max(5000, opensAt - Date.now() + 10000) });
    const [, opened, open] = label[locale];
    const now = { label: (await page.textContent('#opens-label')).trim(), badge: (await page.textContent('#sale-status')).trim() };
    assert(now.label === opened, `${locale}: the label beside the time after opening: ${JSON.stringify(now)}`);
    assert(now.badge === open, `${locale}: the badge: ${JSON.stringify(now)}`);
    assert(await page.isHidden('#queue-keep'), `${locale}: "keep this page open" stays up after admission`);
    const broken = await brokenWords(page);
    assert(broken.length === 0, `${locale} admitted: ${broken.join('; ')}`);
    await fitsPhone(page);
    await shot(page, `queue-admitted-live-${locale}`);
  }
  return people[0][1];
});

test('queue page: a signed-in visitor who is not in line: loading the sale page gets no error status from queue/me', async (browser) => {
  const sale = await stockSale(`Browser not in line ${run}`, {
    waiting_room: { policy: 'active', active_max: 1000, pass_seconds: 300, pow_bits: 0 },
  });
  const context = await newContext(browser);
  await signUpApi(context, 'Nam');
  const page = await context.newPage();
  const answers = [];
  page.on('response', (r) => {
    if (r.url().includes('/queue/me')) answers.push(r.status());
  });
  await page.goto(`${base}/sales/${sale.id}`);
  await page.waitForFunction(() => document.querySelector('#queue-joined').textContent.trim() === '0');
  await page.waitForLoadState('networkidle');
  assert(answers.length > 0, 'the page asked whether I am in line');
  assert(answers.every((s) => s < 400), `queue/me answered ${answers.join(', ')}`);
  assert(await page.isVisible('#queue-join'), 'the join button is offered');
  return context;
});

test('queue page: header and panels: a 20-character name keeps "Log out" on the header line, a rename shows at once, and panels that start with a heading have no extra space on top', async (browser) => {
  const sale = await stockSale(`Browser header ${run}`, {
    waiting_room: { policy: 'active', active_max: 1000, pass_seconds: 300, pow_bits: 0 },
  });
  const context = await newContext(browser, 'ko-KR');
  const longName = 'Bartholomew Kimberly';
  assert(longName.length === 20, 'a 20-character name');
  const signup = await context.request.post(`${base}/api/auth/signup`, {
    data: { email: `long-name-${run}@example.com`, password: 'browser-pass-1', name: longName },
  });
  assert(signup.status() === 201, `signup answered ${signup.status()}`);
  const page = await context.newPage();
  for (const path of [`/sales/${sale.id}`, '/me']) {
    await page.goto(`${base}${path}`);
    const box = await page.evaluate(() => {
      const r = (sel) => document.querySelector(sel).getBoundingClientRect();
      return { header: r('header.top').height, me: r('#nav-me').top, out: r('#nav-logout').top, user: r('#nav-user') };
    });
    assert(box.header < 100, `${path}: the header is ${box.header}px tall`);
    assert(Math.abs(box.out - box.me) < 8, `${path}: "Log out" is on another line (${box.out} vs ${box.me})`);
    assert((await page.getAttribute('#nav-user', 'title')) === longName, 'the whole name is in the title');
    const gaps = await page.evaluate(() => [...document.querySelectorAll('.panel')]
      .filter((p) => p.offsetParent !== null && /^H[1-6]$/.test(p.firstElementChild?.tagName || ''))
      .map((p) => ({ id: p.id || p.className, gap: p.firstElementChild.getBoundingClientRect().top - p.getBoundingClientRect().top })));
    // The sale page's waiting room starts with a heading (so do the organizer's dashboard panels).
    if (path.startsWith('/sales/')) assert(gaps.length > 0, `${path}: a panel that starts with a heading`);
    for (const g of gaps) assert(g.gap <= 18, `${path}: ${g.id} has ${g.gap}px above its heading`);
    await fitsPhone(page);
    await shot(page, `header-long-name${path.replaceAll('/', '-')}`);
  }
  // A rename on my page: the header follows without a reload.
  await page.fill('#profile-name', 'Han');
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/me') && r.request().method() === 'PUT'),
    page.click('#profile-save'),
  ]);
  await page.waitForFunction(() => document.querySelector('#nav-user').textContent.trim() === 'Han', null, { timeout: 3000 });
  assert((await page.getAttribute('#nav-user', 'title')) === 'Han', 'the title follows the rename');
  await shot(page, 'header-renamed');
  return context;
});
