// wallet.mjs: paying with the wallet on a phone, in Korean and in English.
// A buyer with a ₩100,000 grant holds one ticket, sees the pay button name
// their balance, pays, and sees the order paid and the balance dropped (on
// the sale page and on my page, with the statement line); then a second hold
// costs more than is left, and the refusal is said in words while the hold
// stays theirs.
import { assert, base, fitsPhone, newContext, run, shot, signUpApi, stockSale, test } from '../lib.mjs';

const WORDS = {
  en: {
    locale: 'en-US',
    pay: 'Pay with wallet',
    paid: 'Paid ₩55,000 from your wallet',
    left: '₩45,000',
    status: 'Paid',
    line: 'Payment',
    short: 'Not enough money in your wallet',
  },
  ko: {
    locale: 'ko-KR',
    pay: '지갑으로 결제',
    paid: '지갑에서 ₩55,000',
    left: '₩45,000',
    status: '결제 완료',
    line: '결제',
    short: '지갑 잔액이 부족',
  },
};

for (const [lang, w] of Object.entries(WORDS)) {
  test(`wallet (${lang}): pay for a hold with the wallet, see the balance drop and the order paid; a short wallet is refused in words`, async (browser) => {
    const sale = await stockSale(`Wallet pass ${lang} ${run}`);
    const context = await newContext(browser, w.locale);
    await signUpApi(context, `Wallet${lang}`, { grant: 100000 });
    const page = await context.newPage();
    await page.goto(`${base}/sales/${sale.id}`);
    await page.click('#hold-button');
    await page.waitForSelector('#hold-panel:not([hidden])');
    // The pay button names the balance, read when the hold is shown.
    await page.waitForFunction(() => document.querySelector('#confirm-button').textContent.includes('100,000'));
    const label = (await page.textContent('#confirm-button')).trim();
    assert(label.includes(w.pay) && label.includes('₩100,000'), `pay button: ${label}`);
    await fitsPhone(page);
    await shot(page, `wallet-${lang}-hold`);

    await page.click('#confirm-button');
    await page.waitForSelector('#order-panel:not([hidden])');
    const done = await page.textContent('#order-text');
    assert(done.includes(w.paid) && done.includes(w.left), `paid text: ${done}`);
    await shot(page, `wallet-${lang}-paid`);

    await page.goto(`${base}/me`);
    assert((await page.textContent('#wallet-balance')).trim() === w.left, `balance on my page: ${await page.textContent('#wallet-balance')}`);
    const order = page.locator(`#my-orders li.row[data-sale="${sale.id}"]`);
    assert((await order.locator('.badge').textContent()).trim() === w.status, `order status: ${await order.textContent()}`);
    const statement = await page.textContent('#wallet-statement');
    assert(statement.includes(w.line) && statement.includes('−₩55,000'), `statement: ${statement}`);
    await fitsPhone(page);
    await shot(page, `wallet-${lang}-me`);

    // ₩45,000 left: a second ticket at ₩55,000 is refused, in words, and the hold stays.
    await page.goto(`${base}/sales/${sale.id}`);
    await page.click('#hold-button');
    await page.waitForSelector('#hold-panel:not([hidden])');
    await page.waitForFunction(() => document.querySelector('#confirm-button').textContent.includes('45,000'));
    await page.click('#confirm-button');
    await page.waitForFunction((text) => document.querySelector('#stock-message').textContent.includes(text), w.short);
    assert(await page.isVisible('#hold-panel'), 'the hold is still there to pay once there is money');
    assert(await page.isHidden('#order-panel'), 'no order');
    await fitsPhone(page);
    await shot(page, `wallet-${lang}-short`);
    return context;
  });
}
