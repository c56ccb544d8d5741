// Accounts (issue 9, item 16): a guessable password is refused on the
// sign-up page with a human reason in the viewer's language.

import { base, assert, newContext, run, shot, test } from '../lib.mjs';

test('sign-up refuses a guessable password and says why, in Korean', async (browser) => {
  const context = await newContext(browser, 'ko-KR');
  const page = await context.newPage();
  const email = `minji-${run}@example.com`;
  await page.goto(`${base}/signup`);
  await page.fill('#name', '김민지');
  await page.fill('#email', email);

  const refusal = async (password) => {
    await page.fill('#password', password);
    await page.click('#submit');
    await page.waitForSelector('#form-error:not([hidden])');
    const text = await page.textContent('#form-error');
    // Sent and refused by the server, not the page's length check.
    assert(text.includes('추측하기 쉬운 비밀번호'), `a weak password is refused in Korean: ${text}`);
    return text;
  };
  const common = await refusal('12345678');
  assert(common.includes('가장 흔히 쓰이는 비밀번호'), `says it is a common password: ${common}`);
  assert(!/[A-Za-z]{4,}/.test(common), `no English in the Korean message: ${common}`);
  await shot(page, 'signup-weak-password-ko');
  const personal = await refusal(email);
  assert(personal.includes('이메일 주소나 이름'), `says it contains the e-mail: ${personal}`);
  const pattern = await refusal('        ');
  assert(pattern.includes('반복'), `says repeats are easy to guess: ${pattern}`);

  await page.fill('#password', 'plum-river-42');
  await Promise.all([page.waitForURL(`${base}/`), page.click('#submit')]);
  assert((await page.textContent('#nav-user')).trim() === '김민지', 'a strong password signs up');
  return context;
});
