// The customer-experience loop as people use it: an agency analyst answers
// the quarterly survey from the link in her email, without signing in, then
// signs in and submits a feedback item; the office sees both on its CX
// dashboard, moves the item to done and posts a "you said, we did" entry;
// the agency sees the entry on its dashboard. Every page visited passes axe
// (WCAG 2.1 AA) with no browser errors.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { closeBrowser, newPage, requireComponents, screenshot, startServer } from '../lib/index.mjs';
import { choose, signIn, visit } from '../lib/portal.mjs';

const skip = requireComponents({ chromium: true, qsmo: true });

// The number of people who answered the trust question in the dashboard's
// latest quarter, read from its headline card.
async function trustAnswers(page) {
  const text = await page.locator('.qsmo-card').first().textContent();
  const m = text.match(/Thumbs up from (\d+) of (\d+) people/);
  return m ? Number(m[2]) : 0;
}

async function openFeedbackCount(page) {
  const card = page.locator('.qsmo-card', { has: page.getByRole('heading', { name: 'Open feedback' }) });
  return Number((await card.locator('.qsmo-stat').textContent()).trim());
}

describe('customer-experience loop', { skip }, () => {
  let server;
  let office;
  let agency;
  const state = {};
  before(async () => {
    server = await startServer();
    office = await newPage({ baseURL: server.baseURL });
    agency = await newPage({ baseURL: server.baseURL });
  });
  after(async () => {
    await office?.close();
    await agency?.close();
    await closeBrowser();
    await server?.stop();
  });

  test('the office looks at its CX dashboard and finds the survey email', async () => {
    await signIn(office, 'analyst@office.example.gov');
    await office.getByRole('navigation', { name: 'Primary navigation' }).getByRole('link', { name: 'Customer experience' }).click();
    await visit(office, null, 'cx-dashboard');
    for (const name of ['Trust by stage and quarter', 'Trust by service', 'Trust by provider', 'What went well and what didn’t', 'Open feedback by age']) {
      await office.getByRole('img', { name }).waitFor();
    }
    await office.getByText('Show the data as a table').first().click();
    await office.getByRole('table', { name: 'Trust by stage and quarter' }).waitFor();
    await screenshot(office, 'cx-dashboard');
    state.answers = await trustAnswers(office);
    state.open = await openFeedbackCount(office);

    // Without SMTP the invitation waits in the outbox; an office admin reads it.
    const admin = await newPage({ baseURL: server.baseURL });
    await signIn(admin, 'admin@office.example.gov');
    await visit(admin, '/admin/outbox?to=analyst@energy.example.gov', 'cx-outbox');
    // With the marketplace connected, Energy's real Protective DNS
    // subscription also gets its quarterly delivery survey: either email's
    // link answers a survey of this quarter.
    await admin.getByRole('link', { name: /How is Protective DNS working for you\?/ }).first().click();
    await visit(admin, null, 'cx-outbox-message');
    const body = await admin.locator('#message-body').textContent();
    state.link = body.match(/http:\/\/\S+\/cx\/answer\/[a-z0-9]+/)[0];
    await admin.close();
  });

  test('the agency analyst answers the survey from the email link', async () => {
    await agency.goto(state.link);
    await visit(agency, null, 'cx-survey');
    await agency.getByRole('heading', { level: 1, name: 'How is Protective DNS working for you?' }).waitFor();
    await screenshot(agency, 'cx-survey');
    await agency.getByRole('button', { name: 'Send my answers' }).click();
    await agency.getByText('Answer at least one question before sending.').first().waitFor();
    await visit(agency, null, 'cx-survey-error');

    await choose(agency, 'radio', /Thumbs up/);
    const wentWell = agency.getByRole('group', { name: /What went well\?/ });
    for (const driver of ['Ease', 'Employee']) {
      const box = wentWell.getByRole('checkbox', { name: new RegExp(`^${driver}`) });
      await agency.locator(`label[for="${await box.getAttribute('id')}"]`).click();
      assert.ok(await box.isChecked(), `${driver} ticked`);
    }
    await agency.getByLabel(/Is there anything else you would like to tell us\?/).fill('Blocking works; the weekly digest helps our SOC.');
    await agency.getByRole('button', { name: 'Send my answers' }).click();
    await agency.getByRole('heading', { name: 'Thank you for your answers' }).waitFor();
    await visit(agency, null, 'cx-survey-thanks');
    await agency.getByText('Ease, Employee').waitFor();
    await screenshot(agency, 'cx-survey-thanks');
  });

  test('the agency analyst signs in and submits a feedback item', async () => {
    await signIn(agency, 'analyst@energy.example.gov');
    await visit(agency, '/cx', 'cx-agency-overview');
    await agency.getByRole('link', { name: 'Submit feedback' }).first().click();
    await visit(agency, null, 'cx-feedback-new');
    await choose(agency, 'radio', /^Idea/);
    await agency.getByLabel('Title').fill('Show blocked-domain counts per office in the weekly digest');
    await agency.getByLabel(/Details/).fill('Each regional office wants its own numbers.');
    await agency.getByLabel(/Which service is it about/).selectOption('protective-dns');
    await agency.getByRole('button', { name: 'Submit feedback' }).click();
    await agency.getByText('The office has your feedback').waitFor();
    await visit(agency, null, 'cx-feedback-item');
    state.feedbackURL = new URL(agency.url()).pathname;
  });

  test('the office sees the answer and the feedback, and moves the item to done', async () => {
    await visit(office, '/cx', 'cx-dashboard-after');
    assert.equal(await trustAnswers(office), state.answers + 1, 'the answer counts in this quarter');
    assert.equal(await openFeedbackCount(office), state.open + 1, 'the feedback is open');

    await visit(office, '/cx/feedback?state=open', 'cx-feedback-list');
    await office.getByRole('link', { name: 'Show blocked-domain counts per office in the weekly digest' }).click();
    await visit(office, null, 'cx-feedback-office');
    await choose(office, 'radio', /^Under review/);
    await office.getByRole('button', { name: 'Update and tell the submitter' }).click();
    await office.getByText('The item is now Under review').waitFor();
    await visit(office, null, 'cx-feedback-review');
    await choose(office, 'radio', /^Done/);
    await office.getByLabel(/Note to the submitter/).fill('The digest now has a section per regional office.');
    await office.getByRole('button', { name: 'Update and tell the submitter' }).click();
    await office.getByText('The item is now Done').waitFor();
    await visit(office, null, 'cx-feedback-done');
  });

  test('the office posts a "you said, we did" entry', async () => {
    await office.getByRole('link', { name: /Post a “you said, we did” entry/ }).click();
    await visit(office, null, 'cx-change-new');
    const linked = office.getByRole('checkbox', { name: /Show blocked-domain counts per office/ });
    assert.ok(await linked.isChecked(), 'the item is linked');
    await office.getByLabel('Title', { exact: true }).fill('Regional numbers in the weekly DNS digest');
    await office.getByLabel('You said, we did').fill('You asked for blocked-domain counts per regional office. The weekly digest now has a section for each.');
    await office.getByLabel('What changed').selectOption('service');
    await office.getByLabel('Name of the change').fill('Protective DNS weekly digest');
    await office.getByLabel('What was measured').fill('Offices with their own numbers');
    await office.getByLabel(/^Before/).fill('0');
    await office.getByLabel(/^After/).fill('14');
    await choose(office, 'checkbox', /Higher is better/);
    await choose(office, 'radio', /Only the organizations whose feedback it answers/);
    await office.getByRole('button', { name: 'Publish the entry' }).click();
    await office.getByText('The entry is published').waitFor();
    await visit(office, null, 'cx-change');
    await office.getByRole('img', { name: 'Offices with their own numbers' }).waitFor();
    await screenshot(office, 'cx-change');
  });

  test('the agency sees the entry on its dashboard', async () => {
    await visit(agency, '/', 'cx-agency-dashboard');
    await agency.getByRole('heading', { name: 'You said, we did: Regional numbers in the weekly DNS digest' }).waitFor();
    await screenshot(agency, 'cx-agency-dashboard');
    await agency.getByRole('link', { name: /Read what changed/ }).click();
    await visit(agency, null, 'cx-agency-change');
    await agency.getByRole('link', { name: 'Show blocked-domain counts per office in the weekly digest' }).waitFor();
    await visit(agency, '/notifications', 'cx-agency-notifications');
    await agency.getByText('Your feedback is done').first().waitFor();
  });

  test('the other CX pages pass the accessibility check', async () => {
    for (const [path, label] of [['/cx/surveys', 'cx-surveys'], ['/cx/surveys/new', 'cx-survey-new'], ['/cx/changes', 'cx-changes'],
      ['/cx/export', 'cx-export']]) {
      await visit(office, path, label);
    }
    await visit(office, '/cx/surveys', 'cx-surveys-again');
    await office.locator('table a[href^="/cx/surveys/svy_"]').first().click();
    await visit(office, null, 'cx-survey-detail');
    const admin = await newPage({ baseURL: server.baseURL });
    await signIn(admin, 'admin@office.example.gov');
    await visit(admin, '/cx/settings', 'cx-settings');
    await admin.close();
    const provider = await newPage({ baseURL: server.baseURL });
    await signIn(provider, 'admin@bluewater.example.com');
    await visit(provider, '/cx', 'cx-provider-dashboard');
    await provider.getByRole('img', { name: 'Trust by service' }).waitFor();
    await screenshot(provider, 'cx-provider-dashboard');
    await provider.close();
  });
});
