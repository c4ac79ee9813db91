// The marketplace as its people use it, end to end: an agency buyer takes a
// maturity assessment, reads the explained recommendations, compares three
// offerings and requests one; the office approves; the provider quotes; the
// agency's approver accepts with the funding; the provider sends the
// interagency agreement, both sides sign it; the provider works the
// onboarding checklist and the subscription becomes active; the agency
// answers the survey that follows, the office sees the answer on its CX
// dashboard and posts a "you said, we did" entry, and the agency sees it.
// Every page visited passes axe (WCAG 2.1 AA) with no browser errors.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { closeBrowser, newPage, requireComponents, screenshot, startServer } from '../lib/index.mjs';
import { choose, signIn, visit } from '../lib/portal.mjs';

const skip = requireComponents({ chromium: true, qsmo: true });

/** Ticks a USWDS radio or checkbox inside a locator by clicking its label. */
async function tick(scope, role, name) {
  const input = scope.getByRole(role, { name });
  const id = await input.getAttribute('id');
  const page = typeof scope.page === 'function' ? scope.page() : scope;
  await page.locator(`label[for="${id}"]`).click();
  assert.ok(await input.isChecked(), `${role} ${name} is not checked`);
}

// The number of people who answered the trust question in the CX
// dashboard's latest quarter, read from its headline card.
async function trustAnswers(page) {
  const text = await page.locator('.qsmo-card').first().textContent();
  const m = text.match(/Thumbs up from (\d+) of (\d+) people/);
  return m ? Number(m[2]) : 0;
}

describe('marketplace', { skip }, () => {
  let server;
  const pages = {};
  const state = {};
  const as = async (who, email) => {
    if (!pages[who]) {
      pages[who] = await newPage({ baseURL: server.baseURL });
      await signIn(pages[who], email, undefined, `sign-in-${who}`);
    }
    return pages[who];
  };
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    for (const p of Object.values(pages)) await p.close();
    await closeBrowser();
    await server?.stop();
  });

  test('an agency buyer takes an assessment and reads explained recommendations', async () => {
    const page = await as('buyer', 'buyer@energy.example.gov');
    await visit(page, '/marketplace/assessments', 'assessments');
    await page.getByRole('link', { name: 'Assess Incident management' }).click();
    await visit(page, null, 'assessment-form');
    await page.getByRole('button', { name: 'See my tier' }).click();
    await page.getByRole('heading', { name: 'There is a problem' }).waitFor();
    await visit(page, null, 'assessment-form-errors');
    const answer = async (question, option) => tick(page.getByRole('group', { name: question }), 'radio', option);
    await answer('Do you have an incident response plan?', 'Yes, exercised in the last year');
    await answer('Can you collect forensic images and memory from endpoints?', 'On some systems');
    await answer('How fast can you report an incident to CISA?', 'Within an hour');
    await answer('Do you have incident response support on retainer?', 'We would contract when needed');
    await page.getByRole('button', { name: 'See my tier' }).click();
    await page.getByRole('heading', { name: /Incident management maturity: Advanced/ }).waitFor();
    await visit(page, null, 'assessment-result');
    await page.getByText('You scored 6 of 8 points').waitFor();
    await page.getByRole('link', { name: 'See explained recommendations' }).click();
    await visit(page, null, 'recommendations');
    const section = page.getByRole('region', { name: /Incident management: Advanced tier/ });
    await section.getByRole('link', { name: 'Bluewater Incident Response Retainer', exact: true }).waitFor();
    await section.getByText('Offered at the advanced tier your assessment points to.').first().waitFor();
    await section.getByText(/You meet its prerequisites: A tested incident response plan/).waitFor();
    await screenshot(page, 'marketplace-recommendations');
  });

  test('the buyer compares three offerings and requests one', async () => {
    const page = pages.buyer;
    await visit(page, '/marketplace?area=incident-management&area=threat-intelligence', 'storefront');
    for (const name of ['Bluewater Incident Response Retainer', 'FCSSC Incident Response', 'Bluewater Threat Intelligence']) {
      await tick(page, 'checkbox', `Compare ${name}`);
    }
    await page.getByRole('button', { name: 'Compare selected' }).click();
    await visit(page, null, 'compare');
    const table = page.getByRole('table', { name: 'Offerings compared' });
    assert.equal(await table.getByRole('columnheader').count(), 4);
    await table.getByRole('rowheader', { name: 'Customer trust' }).waitFor();
    await screenshot(page, 'marketplace-compare');
    await table.getByRole('link', { name: 'Bluewater Incident Response Retainer', exact: true }).click();
    await visit(page, null, 'offering');
    state.offering = new URL(page.url()).pathname;
    await page.getByRole('link', { name: 'Request this offering' }).click();
    await visit(page, null, 'request-form');
    await tick(page, 'radio', /^Advanced:/);
    await page.getByLabel('What do you need?').fill('Retainer for ransomware and intrusions across the national labs, with on-site help within a day.');
    await page.getByRole('button', { name: 'Send the request' }).click();
    await page.getByText('Your request is sent to the office for review.').waitFor();
    await visit(page, null, 'order-requested');
    state.order = new URL(page.url()).pathname;
    assert.match(state.order, /^\/marketplace\/orders\/ord_/);
  });

  test('the office approves the request', async () => {
    const page = await as('office', 'analyst@office.example.gov');
    await visit(page, '/marketplace/orders?show=waiting', 'orders-waiting');
    await visit(page, state.order, 'order-review');
    await page.getByRole('button', { name: 'Approve the request' }).click();
    await page.getByText('The request is approved').waitFor();
    await visit(page, null, 'order-approved');
  });

  test('the provider quotes', async () => {
    const page = await as('provider', 'admin@bluewater.example.com');
    await visit(page, '/marketplace/provider', 'provider-dashboard');
    await visit(page, state.order, 'order-to-quote');
    await page.getByRole('link', { name: 'Write the quote' }).click();
    await visit(page, null, 'quote-form');
    await page.getByLabel('Notes for the agency').fill('As listed; hours are billed at the listed rate.');
    await page.getByRole('button', { name: 'Send the quote' }).click();
    await page.getByText('The quote is sent to the agency.').waitFor();
    await visit(page, null, 'order-quoted');
  });

  test("the agency's approver accepts the quote with the funding", async () => {
    const page = await as('approver', 'approver@energy.example.gov');
    await visit(page, state.order, 'order-quote-decision');
    await page.getByLabel('Treasury account symbol (TAS)').fill('089-X-0228');
    await page.getByLabel('Object class').fill('25.3');
    await page.getByRole('button', { name: 'Accept the quote' }).click();
    await page.getByText('The quote is accepted and the agreement drafted').waitFor();
    await visit(page, null, 'order-accepted');
  });

  test('the provider sends the agreement and both sides sign it', async () => {
    const provider = pages.provider;
    await visit(provider, state.order, 'order-agreement-draft');
    await provider.getByRole('link', { name: /send it for signature/ }).click();
    await visit(provider, null, 'agreement-draft');
    await provider.getByRole('heading', { name: 'General terms and conditions (7600A)' }).waitFor();
    await provider.getByRole('button', { name: 'Send for signature' }).click();
    await provider.getByText('The agreement is numbered and sent').waitFor();
    await visit(provider, null, 'order-signing');

    const approver = pages.approver;
    await visit(approver, state.order + '/agreement', 'agreement-to-sign');
    const gtc = await approver.getByText(/^GTC-\d{4}-\d{6}$/).first().textContent();
    assert.match(gtc.trim(), /^GTC-\d{4}-\d{6}$/);
    await approver.getByLabel('Your title').fill('Chief Information Officer');
    await approver.getByLabel("Your organization's tracking number").fill('DOE-IAA-2026-118');
    await approver.getByRole('button', { name: 'Sign the agreement' }).click();
    await approver.getByText('Your signature is recorded.').waitFor();
    await visit(approver, null, 'order-agency-signed');

    await visit(provider, state.order + '/agreement', 'agreement-provider-signs');
    await provider.getByLabel('Your title').fill('Contracts Director');
    await provider.getByLabel("Your organization's tracking number").fill('BW-IAA-0042');
    await provider.getByRole('button', { name: 'Sign the agreement' }).click();
    await provider.getByText('Your signature is recorded.').waitFor();
    await visit(provider, null, 'order-signed');
    await provider.getByText(/Next: Onboarding/).waitFor();
    await visit(provider, state.order + '/agreement', 'agreement-signed');
    await provider.getByText('Signed by both parties').first().waitFor();
    await screenshot(provider, 'marketplace-agreement');
  });

  test('the provider completes onboarding and the subscription is active', async () => {
    const page = pages.provider;
    await visit(page, state.order, 'order-onboarding');
    for (;;) {
      const next = page.getByRole('button', { name: /^Mark done/ }).first();
      if ((await next.count()) === 0) break;
      await next.click();
      await page.getByText(/is done\.$/).first().waitFor();
      await visit(page, null, 'task-done');
    }
    await page.getByRole('button', { name: 'Complete onboarding' }).click();
    await page.getByText('Onboarding is complete: the subscription is active.').waitFor();
    await visit(page, null, 'order-active');
    await page.getByRole('link', { name: 'View the subscription' }).click();
    await visit(page, null, 'subscription');
    await page.getByText('Active', { exact: true }).first().waitFor();

    const buyer = pages.buyer;
    await visit(buyer, '/marketplace/dashboard/agency', 'agency-dashboard');
    await buyer.getByRole('link', { name: 'Bluewater Incident Response Retainer' }).first().waitFor();
    await visit(buyer, '/notifications', 'buyer-notifications');
    await buyer.getByText(/Service active: “Bluewater Incident Response Retainer”/).first().waitFor();
    await screenshot(buyer, 'marketplace-agency-dashboard');

    const office = pages.office;
    await visit(office, '/marketplace/dashboard/office', 'office-dashboard');
    await screenshot(office, 'marketplace-office-dashboard');
  });

  test('the agency answers the survey about getting started', async () => {
    const office = pages.office;
    await visit(office, '/cx', 'cx-dashboard-before');
    state.answers = await trustAnswers(office);

    const analyst = await as('analyst', 'analyst@energy.example.gov');
    await visit(analyst, '/notifications', 'analyst-notifications');
    await analyst.getByRole('link', { name: /A one-minute survey about Bluewater Incident Response Retainer/ }).first().click();
    await visit(analyst, null, 'execution-survey');
    await choose(analyst, 'radio', /Thumbs down/);
    const notWell = analyst.getByRole('group', { name: /What didn.t go so well\?/ });
    const box = notWell.getByRole('checkbox', { name: /^Efficiency/ });
    await analyst.locator(`label[for="${await box.getAttribute('id')}"]`).click();
    assert.ok(await box.isChecked(), 'Efficiency ticked');
    await analyst.getByLabel(/Is there anything else you would like to tell us\?/).fill('Onboarding took three weeks; the checklist had steps we could not see.');
    await analyst.getByRole('button', { name: 'Send my answers' }).click();
    await analyst.getByRole('heading', { name: 'Thank you for your answers' }).waitFor();
    await visit(analyst, null, 'execution-survey-thanks');
  });

  test('the office sees the answer and posts a "you said, we did" entry', async () => {
    const office = pages.office;
    await visit(office, '/cx', 'cx-dashboard-after');
    assert.equal(await trustAnswers(office), state.answers + 1, 'the answer counts on the CX dashboard');
    await visit(office, '/cx/changes/new', 'cx-change-new');
    await office.getByLabel('Title', { exact: true }).fill('Incident response onboarding checklist shared with agencies');
    await office.getByLabel('You said, we did').fill('You told us onboarding steps were hidden from you. Agencies now see the provider’s checklist and its progress on the order page.');
    await office.getByLabel('What changed').selectOption('offering');
    await office.getByLabel('Name of the change').fill('Bluewater Incident Response Retainer');
    await office.getByRole('textbox', { name: /^Link/ }).fill(state.offering);
    await office.getByRole('combobox', { name: /^Service/ }).selectOption('incident-management');
    await office.getByLabel('What was measured').fill('Days from signature to active service');
    await office.getByLabel(/^Before/).fill('21');
    await office.getByLabel(/^After/).fill('9');
    await office.getByRole('textbox', { name: /^Unit/ }).fill('days');
    await choose(office, 'radio', /Every agency and provider/);
    await office.getByRole('button', { name: 'Publish the entry' }).click();
    await office.getByText('The entry is published').waitFor();
    await visit(office, null, 'cx-change');
  });

  test('the agency sees the entry on its dashboard', async () => {
    const buyer = pages.buyer;
    await visit(buyer, '/', 'agency-home');
    await buyer.getByRole('heading', { name: 'You said, we did: Incident response onboarding checklist shared with agencies' }).waitFor();
    await buyer.getByRole('link', { name: /Read what changed/ }).first().click();
    await visit(buyer, null, 'agency-change');
    await buyer.getByText('Days from signature to active service').first().waitFor();
    await screenshot(buyer, 'marketplace-you-said-we-did');
  });
});
