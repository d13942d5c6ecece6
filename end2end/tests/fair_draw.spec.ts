import { expect } from '@playwright/test';
import { api, memberPage, open, phone, signInAsAdmin, test } from './helpers';

const drawn = 'You were drawn!';
const notDrawn = 'You were not drawn this time.';

test('three members on phones wait in the line of a fair draw and see their result at the draw', async ({
  page,
  browser,
}) => {
  // Entries, the draw ~20 s after creation and the results: longer than one ordinary test.
  test.setTimeout(120_000);
  await signInAsAdmin(page);

  // A shop creates a fair draw of 2 coupons through the JSON API: entries open now, the draw in
  // 20 seconds.
  const now = Date.now();
  const drawAt = now + 20_000;
  const created = await page.request.post('/api/v1/campaigns', {
    headers: api,
    data: {
      name: `Fair draw ${now}`,
      discount_kind: 'fixed_amount',
      discount_amount: 2000,
      quantity: 2,
      claim_starts_at: new Date(drawAt).toISOString(),
      claim_ends_at: new Date(now + 86_400_000).toISOString(),
      valid_days: 30,
      opening: 'fair_draw',
      entries_open_at: new Date(now - 1_000).toISOString(),
    },
  });
  expect(created.status()).toBe(201);
  const campaign = await created.json();
  const id: number = campaign.id;
  expect(campaign.draw_commitment).toMatch(/^[0-9a-f]{64}$/);

  // The marketer keeps the campaign's page open.
  await open(page, `/admin/campaigns/${id}`);
  await expect(page.getByTestId('entrants')).toHaveText('0');

  // Three members, each on a phone of their own, enter.
  const members = await Promise.all(
    ['line-kim', 'line-lee', 'line-park'].map((m) => memberPage(browser, id, m, { viewport: phone })),
  );
  for (const member of members) {
    // Marks the page: a reload would lose the mark.
    await member.evaluate(() => ((window as unknown as { inLine: boolean }).inLine = true));
    await expect(member.getByTestId('draw-commitment')).toHaveText(campaign.draw_commitment);
    await member.getByRole('button', { name: 'Enter the draw' }).click();
    await expect(member.getByTestId('outcome')).toHaveText('You are entered');
    await expect(member.getByTestId('countdown')).toHaveText(/^\d\d:\d\d$/);
  }

  // Each page's entrants count reaches 3 through the live stream, and so does the marketer's.
  for (const member of members) {
    await expect(member.getByTestId('entrants')).toHaveText('3', { timeout: 10_000 });
  }
  await expect(page.getByTestId('entrants')).toHaveText('3', { timeout: 10_000 });
  expect(Date.now(), 'the members entered before the draw').toBeLessThan(drawAt);
  await members[0].screenshot({ path: 'screenshots/claim-draw-entered-phone.png', fullPage: true });

  // At the draw each page turns into the member's result, without a reload.
  const untilResults = drawAt - Date.now() + 20_000;
  for (const member of members) {
    await expect(member.getByTestId('outcome')).toHaveText(new RegExp(`^(${drawn}|${notDrawn})$`), {
      timeout: untilResults,
    });
  }
  const outcomes = await Promise.all(members.map((m) => m.getByTestId('outcome').textContent()));
  expect(outcomes.filter((o) => o === drawn)).toHaveLength(2);
  expect(outcomes.filter((o) => o === notDrawn)).toHaveLength(1);
  for (const [n, member] of members.entries()) {
    expect(await member.evaluate(() => (window as unknown as { inLine?: boolean }).inLine)).toBe(true);
    // What proves the draw: the secret revealed, the cutoff, the member's own digest.
    await expect(member.getByTestId('draw-secret')).toHaveText(/^[0-9a-f]{64}$/);
    await expect(member.getByTestId('draw-cutoff')).toHaveText(/^[0-9a-f]{64}$/);
    await expect(member.getByTestId('draw-digest')).toHaveText(/^[0-9a-f]{64}$/);
    if (outcomes[n] === drawn) {
      await expect(member.getByTestId('coupon-code')).toHaveText(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
    } else {
      await expect(member.getByTestId('coupon-code')).toHaveCount(0);
    }
  }
  const winner = members[outcomes.indexOf(drawn)];
  const loser = members[outcomes.indexOf(notDrawn)];
  await winner.screenshot({ path: 'screenshots/claim-draw-won-phone.png', fullPage: true });
  await loser.screenshot({ path: 'screenshots/claim-draw-not-drawn-phone.png', fullPage: true });

  // The marketer's page still shows the entrants, and the two coupons issued.
  await expect(page.getByTestId('entrants')).toHaveText('3');
  await expect(page.getByTestId('claimed')).toHaveText('2');
  await Promise.all(members.map((m) => m.context().close()));
});
