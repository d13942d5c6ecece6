import { expect } from '@playwright/test';
import { createCampaign, memberPage, newContext, open, signInAsAdmin, test } from './helpers';

test('three of four members get the three coupons and the marketer watches it drain live', async ({
  page,
  browser,
}) => {
  // The marketer creates a campaign of 3 and keeps its page open.
  await signInAsAdmin(page);
  const id = await createCampaign(page, `Flash sale ${Date.now()}`, 3);
  await expect(page.getByTestId('remaining')).toHaveText('3');
  await expect(page.getByText('Live', { exact: true })).toBeVisible();

  // Four end users, each in a browser of their own, claim.
  const members = await Promise.all(
    ['kim', 'lee', 'park', 'choi'].map((m) => memberPage(browser, id, m)),
  );
  for (const member of members.slice(0, 3)) {
    await member.getByRole('button', { name: 'Claim' }).click();
    await expect(member.getByText('Your coupon')).toBeVisible();
    await expect(member.getByTestId('coupon-code')).toHaveText(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
  }
  const fourth = members[3];
  await fourth.getByRole('button', { name: 'Claim' }).click();
  await expect(fourth.getByText('Sold out')).toBeVisible();

  // The marketer's open page caught up without a reload.
  await expect(page.getByTestId('remaining')).toHaveText('0');
  await expect(page.getByTestId('claimed')).toHaveText('3');
  await expect(page.getByTestId('synced')).toHaveText('3');
  await expect(page.getByTestId('queued')).toHaveText('0');

  // And the claim pages show the live remaining count.
  await expect(members[0].getByTestId('remaining')).toHaveText('0');

  await page.screenshot({ path: 'screenshots/admin-campaign.png', fullPage: true });
  await members[0].screenshot({ path: 'screenshots/claim-issued.png', fullPage: true });
  await fourth.screenshot({ path: 'screenshots/claim-sold-out.png', fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: 'screenshots/admin-campaign-phone.png', fullPage: true });
  await members[0].setViewportSize({ width: 390, height: 844 });
  await members[0].screenshot({ path: 'screenshots/claim-issued-phone.png', fullPage: true });
  await Promise.all(members.map((m) => m.context().close()));
});

test('a member who claims again sees already claimed, with the same code', async ({
  page,
  browser,
}) => {
  await signInAsAdmin(page);
  const id = await createCampaign(page, `Second click ${Date.now()}`, 5);
  const member = await memberPage(browser, id, 'jung');

  await member.getByRole('button', { name: 'Claim' }).click();
  const code = await member.getByTestId('coupon-code').textContent();
  await member.reload();

  await expect(member.getByText('You already claimed this coupon.')).toBeVisible();
  await expect(member.getByTestId('coupon-code')).toHaveText(code ?? '');
  await expect(page.getByTestId('claimed')).toHaveText('1');
  await member.context().close();
});

test('the claim page works before the wasm bundle loads', async ({ page, browser }) => {
  await signInAsAdmin(page);
  const id = await createCampaign(page, `No script ${Date.now()}`, 2);
  const context = await newContext(browser, { locale: 'en-US', javaScriptEnabled: false });
  const member = await context.newPage();

  await member.goto(`/c/${id}`);
  await member.getByLabel('Member ID').fill('no-js');
  await member.getByRole('button', { name: 'Continue' }).click();
  await member.getByRole('button', { name: 'Claim' }).click();

  await expect(member.getByTestId('coupon-code')).toBeVisible();
  await expect(page.getByTestId('claimed')).toHaveText('1');
  await context.close();
});
