import { expect } from '@playwright/test';
import { createCampaign, memberToken, newContext, open, signInAsAdmin, test } from './helpers';

test('a member arriving by the shop’s token link claims, then signs out', async ({
  page,
  browser,
}) => {
  await signInAsAdmin(page);
  const id = await createCampaign(page, `Token link ${Date.now()}`, 3);
  const context = await newContext(browser, { locale: 'en-US' });
  const member = await context.newPage();

  // The link signs the member in and lands on the clean URL.
  await member.goto(`/c/${id}?member_token=${memberToken('shop-7781')}`);
  await expect(member).toHaveURL(new RegExp(`/c/${id}$`));
  await expect(member.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(member.getByText('Signed in as shop-7781')).toBeVisible();
  await member.getByRole('button', { name: 'Claim' }).click();
  await expect(member.getByTestId('coupon-code')).toBeVisible();
  await expect(page.getByTestId('claimed')).toHaveText('1');

  await member.getByRole('button', { name: 'Sign out' }).click();
  await expect(member.getByText('Signed in as shop-7781')).toHaveCount(0);
  await expect(member.getByTestId('coupon-code')).toHaveCount(0);
  await member.reload();
  await expect(member.getByLabel('Member ID')).toBeVisible();
  await context.close();
});

test('a tampered token link is refused and signs nobody in', async ({ page, browser }) => {
  await signInAsAdmin(page);
  const id = await createCampaign(page, `Bad link ${Date.now()}`, 3);
  const context = await newContext(browser, { locale: 'en-US' });
  const member = await context.newPage();
  const token = memberToken('shop-7782');
  const tampered = token.slice(0, -3) + (token.endsWith('AAA') ? 'BBB' : 'AAA');

  const answer = await member.goto(`/c/${id}?member_token=${tampered}`);

  expect(answer?.status()).toBe(401);
  await expect(member.getByText('This sign-in link was not accepted')).toBeVisible();
  await open(member, `/c/${id}`);
  await expect(member.getByLabel('Member ID')).toBeVisible();
  await context.close();
});
