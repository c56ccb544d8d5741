// card.mjs: paying by card through the sandbox gateway's checkout page, on a
// phone, in Korean and in English. A buyer with an empty wallet holds one
// ticket, presses "Pay by card", declines on the gateway's page and comes
// back to the sale page told that nothing was charged; presses again,
// approves, and comes back told the order is paid, with its ticket on my page.
import { assert, base, fitsPhone, newContext, run, shot, signUpApi, stockSale, test } from '../lib.mjs';

const WORDS = {
  en: {
    locale: 'en-US',
    card: 'Pay by card',
    declined: 'The card payment was declined. Nothing was charged',
    paid: 'Paid by card.',
  },
  ko: {
    locale: 'ko-KR',
    card: '카드로 결제',
    declined: '카드 결제가 거절되었습니다. 청구된 금액은 없으며',
    paid: '카드 결제가 완료되었습니다.',
  },
};

async function holdAndGoToGateway(page, saleId, w) {
  await page.goto(`${base}/sales/${saleId}`);
  await page.click('#hold-button');
  await page.waitForSelector('#hold-panel:not([hidden])');
  const label = (await page.textContent('#card-button')).trim();
  assert(label === w.card, `card button: ${label}`);
  await Promise.all([page.waitForURL((u) => u.pathname === '/checkout'), page.click('#card-button')]);
  // The gateway's own page: what it says is the gateway's business; the amount must be ours.
  const body = await page.textContent('body');
  assert(body.includes('55,000') || body.includes('55000'), `the checkout page shows the amount: ${body.slice(0, 300)}`);
}

for (const [lang, w] of Object.entries(WORDS)) {
  test(`card (${lang}): pay through the gateway's checkout page; a decline charges nothing and a second try pays`, async (browser) => {
    const sale = await stockSale(`Card pass ${lang} ${run}`);
    const context = await newContext(browser, w.locale);
    await signUpApi(context, `Card${lang}`, { grant: 0 });
    const page = await context.newPage();

    await holdAndGoToGateway(page, sale.id, w);
    await shot(page, `card-${lang}-gateway`);
    await Promise.all([page.waitForURL((u) => u.pathname === `/sales/${sale.id}`), page.click('#decline')]);
    const declined = (await page.textContent('#payment-result')).trim();
    assert(declined.includes(w.declined), `after a decline: ${declined}`);
    await fitsPhone(page);
    await shot(page, `card-${lang}-declined`);
    // The hold is still the buyer's: the page shows it again, to pay.
    await page.waitForSelector('#hold-panel:not([hidden])');

    await Promise.all([page.waitForURL((u) => u.pathname === '/checkout'), page.click('#card-button')]);
    await Promise.all([page.waitForURL((u) => u.pathname === `/sales/${sale.id}`), page.click('#approve')]);
    const paid = (await page.textContent('#payment-result')).trim();
    assert(paid.includes(w.paid), `after approving: ${paid}`);
    assert(await page.isHidden('#hold-panel'), 'the hold is paid, not shown to pay again');
    await fitsPhone(page);
    await shot(page, `card-${lang}-paid`);

    const tickets = await context.request.get(`${base}/api/me/tickets`);
    const list = (await tickets.json()).tickets;
    assert(list.length === 1 && list[0].state === 'valid' && list[0].sale_id === sale.id, `tickets: ${JSON.stringify(list)}`);
    return context;
  });
}
