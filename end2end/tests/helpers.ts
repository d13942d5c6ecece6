import { createHmac } from 'node:crypto';
import {
  Browser,
  BrowserContext,
  BrowserContextOptions,
  Page,
  test as base,
  expect,
} from '@playwright/test';

// Uncaught errors in any page of the test (a wasm panic, such as a failed hydration, is one).
// The page can look fine for a while after one, so a test could pass by luck without this.
const uncaughtErrors: string[] = [];

function watchForUncaughtErrors(context: BrowserContext) {
  context.on('weberror', (error) => {
    uncaughtErrors.push(`${error.page()?.url() ?? 'a page'}: ${error.error().message}`);
  });
}

/** Playwright's `test`, failing any test in whose pages an error went uncaught. */
export const test = base.extend<{ noUncaughtErrors: void }>({
  noUncaughtErrors: [
    async ({ context }, use) => {
      uncaughtErrors.length = 0;
      watchForUncaughtErrors(context);
      await use();
      expect(uncaughtErrors, 'uncaught errors in the pages').toEqual([]);
    },
    { auto: true },
  ],
});

/** A browser context of its own (another person, language or setting), watched for errors. */
export async function newContext(browser: Browser, options: BrowserContextOptions) {
  const context = await browser.newContext(options);
  watchForUncaughtErrors(context);
  return context;
}

export const admin = { email: 'admin@example.com', password: 'e2e-password-123' };

/** The JSON API's key on the test server (playwright.config.ts). */
export const api = { Authorization: 'Bearer e2e-api-key' };

/** A phone's screen, as the specs that check phones use. */
export const phone = { width: 390, height: 844 };

/** Opens `path` and waits until the wasm bundle has taken over the page. */
export async function open(page: Page, path: string) {
  await page.goto(path);
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
}

/** Signs the marketer in from the sign-in form shown on any admin page. */
export async function signInAsAdmin(page: Page, path = '/admin') {
  await open(page, path);
  await page.getByLabel('Email').fill(admin.email);
  await page.getByLabel('Password').fill(admin.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
}

/** Creates a campaign through the form and returns its id (the page moves to it). */
export async function createCampaign(page: Page, name: string, quantity: number) {
  await open(page, '/admin/campaigns/new');
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Quantity').fill(String(quantity));
  await page.getByRole('button', { name: 'Create' }).click();
  await expect(page).toHaveURL(/\/admin\/campaigns\/\d+$/);
  await expect(page.getByRole('heading', { name })).toBeVisible();
  return Number(page.url().split('/').pop());
}

/** An end user in a browser of their own (a phone's with `{ viewport: phone }`): signs in with
 * `member` on the claim page. */
export async function memberPage(
  browser: Browser,
  campaignId: number,
  member: string,
  options: BrowserContextOptions = {},
) {
  const context = await newContext(browser, { locale: 'en-US', ...options });
  const page = await context.newPage();
  await open(page, `/c/${campaignId}`);
  await page.getByLabel('Member ID').fill(member);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByText(`Signed in as ${member}`)).toBeVisible();
  return page;
}

/** The secret the test server checks member tokens with (playwright.config.ts). */
const memberTokenSecret = 'e2e-member-token-secret-of-32-bytes!';

/** A member token as the shop would sign it: HS256, naming `member`, valid for five minutes. */
export function memberToken(member: string): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({
    sub: member,
    exp: Math.floor(Date.now() / 1000) + 300,
  })}`;
  const signature = createHmac('sha256', memberTokenSecret).update(body).digest('base64url');
  return `${body}.${signature}`;
}
