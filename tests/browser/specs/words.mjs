// words.mjs: what pages say in words (issue 9, items 5, 6 and 9): validation
// problems worded in the viewer's language from the problem's field and
// bounds, durations a person reads ("4분 0.123초"), counted words in English
// ("1 winner", "0 of 1 prize left"), a free drop's results without revenue,
// the new-sale form's Korean defaults and its refusal of a time in the past,
// and a sale's Korean title shown to Korean viewers.
import { assert, apiCall, base, fitsPhone, newContext, run, shot, signUpApi, test } from '../lib.mjs';

/** A signed-in context whose account has `role`. */
async function signedIn(browser, locale, name, role) {
  const context = await newContext(browser, locale);
  await signUpApi(context, name);
  const me = await (await context.request.get(`${base}/api/me`)).json();
  await apiCall('PUT', `/api/admin/users/${me.id}/role`, { role });
  return context;
}

test('words: a Korean organizer reads validation problems in Korean, with the bounds, and cannot open a sale in 2020', async (browser) => {
  const context = await signedIn(browser, 'ko-KR', 'Kwon', 'organizer');
  const page = await context.newPage();
  await page.goto(`${base}/organizer/new`);
  assert((await page.getAttribute('html', 'lang')) === 'ko', 'html lang=ko');
  await page.check('#kind-seated');
  await page.waitForSelector('#seated-fields:not([hidden])');
  assert((await page.inputValue('#f-venue')) === '공연장', `venue default: ${await page.inputValue('#f-venue')}`);
  assert((await page.locator('.section-spec .s-name').first().inputValue()) === '플로어', 'section default in Korean');
  await page.check('#kind-stock');
  await page.fill('#f-title', `검증 ${run}`);
  await page.fill('#f-stock', '0');
  await page.click('#create-sale');
  await page.waitForSelector('#form-error:not([hidden])');
  const err = await page.textContent('#form-error');
  assert(err.includes('재고 값은 1~100,000,000 사이여야 합니다'), `worded in Korean with the bounds: ${err}`);
  assert(!/must be|between/.test(err), `no English from the server: ${err}`);
  await shot(page, 'words-ko-validation');

  await page.fill('#f-stock', '100');
  await page.fill('#f-opens-at', '2020-01-01T10:00');
  const sent = [];
  page.on('request', (r) => r.method() === 'POST' && r.url().endsWith('/api/sales') && sent.push(r.url()));
  await page.click('#create-sale');
  await page.waitForFunction(() => document.querySelector('#form-error').textContent.includes('이미 지났습니다'));
  assert(sent.length === 0, 'the form refuses it before asking the server');
  const min = await page.getAttribute('#f-opens-at', 'min');
  assert(min && min > '2026', `the picker starts now: ${min}`);
  await fitsPhone(page);
  await shot(page, 'words-ko-past-opening');
});

test('words: a drop click reads as minutes and seconds, counts take English plurals, and a free drop has no revenue', async (browser) => {
  // Opened four minutes ago (the API allows a few minutes in the past), one prize.
  const sale = await apiCall('POST', '/api/sales', {
    kind: 'drop', title: `Words drop ${run}`, description: '', winners: 1,
    opens_at: new Date(Date.now() - 4 * 60 * 1000).toISOString(), closes_at: null,
  });
  const context = await signedIn(browser, 'en-US', 'Words', 'admin');
  const page = await context.newPage();
  await page.goto(`${base}/sales/${sale.id}`);
  assert((await page.textContent('.drop-facts')).includes('1 winner ·'), `singular: ${await page.textContent('.drop-facts')}`);
  await page.waitForSelector('#drop-button:not([disabled])');
  await page.click('#drop-button');
  await page.waitForSelector('#click-result:not([hidden])');
  const ms = await page.textContent('#click-ms');
  assert(/^4 min \d{1,2}\.\d{3} s after opening$/.test(ms.trim()), `a duration a person reads: ${ms}`);
  await page.waitForSelector('#leaderboard-body tr.me');
  const row = await page.textContent('#leaderboard-body tr.me');
  assert(/4 min \d{1,2}\.\d{3} s/.test(row) && !/\d{6}/.test(row), `leaderboard: ${row}`);
  await page.waitForFunction(() => document.querySelector('#drop-clicks').textContent.trim() === '1 click');
  assert((await page.textContent('#drop-left')).trim() === '0 prizes left', await page.textContent('#drop-left'));
  await shot(page, 'words-drop-duration');

  await page.goto(`${base}/?kind=drop`);
  const card = page.locator('a', { hasText: `Words drop ${run}` }).first();
  const cardText = await card.textContent();
  assert(cardText.includes('0 of 1 prize left'), `card: ${cardText}`);

  await apiCall('POST', `/api/sales/${sale.id}/close`);
  await page.goto(`${base}/organizer/sales/${sale.id}`);
  await page.waitForSelector('#results-panel:not([hidden])');
  const summary = (await page.textContent('#results-summary')).trim();
  assert(summary === '1 winner.', `summary: ${summary}`);
  const results = await page.textContent('#results-panel');
  assert(!results.includes('₩'), `no money in a free drop's results: ${results}`);
  await page.waitForFunction(() => document.querySelector('#histogram-text').textContent.includes('1 of 1 click,'));
  const axis = await page.textContent('#histogram');
  assert(/4 min/.test(axis), `the histogram's axis in minutes: ${axis}`);
  await shot(page, 'words-drop-results');

  const korean = await newContext(browser, 'ko-KR');
  const kpage = await korean.newPage();
  await kpage.goto(`${base}/sales/${sale.id}`);
  await kpage.waitForSelector('#leaderboard-body tr');
  const krow = await kpage.textContent('#leaderboard-body tr');
  assert(/4분 \d{1,2}\.\d{3}초/.test(krow), `Korean duration: ${krow}`);
});

test('words: a sale with a Korean title and description shows them to Korean viewers, the English ones to others', async (browser) => {
  const sale = await apiCall('POST', '/api/sales', {
    kind: 'stock', title: `Tea set ${run}`, description: 'Hand-made in Icheon.', stock: 12345, price: 55000, currency: 'KRW',
    per_person_limit: 4, order_quantity_max: 3, hold_seconds: 300, opens_at: null, closes_at: null,
    translations: { ko: { title: `다기 세트 ${run}`, description: '이천에서 손으로 만들었습니다.' } },
  });
  await apiCall('POST', `/api/sales/${sale.id}/open`);
  const korean = await newContext(browser, 'ko-KR');
  const kpage = await korean.newPage();
  await kpage.goto(`${base}/sales/${sale.id}`);
  const kbody = await kpage.textContent('main');
  assert(kbody.includes(`다기 세트 ${run}`) && kbody.includes('이천에서 손으로'), `Korean page: ${kbody.slice(0, 300)}`);
  assert(!kbody.includes(`Tea set ${run}`), 'no English title on the Korean page');
  assert(kbody.includes('12,345'), 'thousands separators');
  await shot(kpage, 'words-ko-title');
  await kpage.goto(`${base}/`);
  assert((await kpage.textContent('main')).includes(`다기 세트 ${run}`), 'the Korean title on the home page');
  const english = await newContext(browser, 'en-US');
  const epage = await english.newPage();
  await epage.goto(`${base}/sales/${sale.id}`);
  const ebody = await epage.textContent('main');
  assert(ebody.includes(`Tea set ${run}`) && !ebody.includes('다기'), `English page: ${ebody.slice(0, 300)}`);
});
