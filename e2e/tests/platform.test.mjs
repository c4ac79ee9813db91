// The platform foundation as people use it: an office admin signs in,
// turns on two-step verification, creates an agency, invites its admin
// (who accepts the emailed link), creates and revokes an API token, and
// reads the audit log. Every page visited passes axe (WCAG 2.1 AA) with no
// browser errors.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { closeBrowser, newPage, requireComponents, screenshot, startServer } from '../lib/index.mjs';
import { choose, signIn, signOut, totp, visit } from '../lib/portal.mjs';

const skip = requireComponents({ chromium: true, qsmo: true });

describe('platform foundation', { skip }, () => {
  let server;
  let page;
  const state = {};
  before(async () => {
    server = await startServer();
    page = await newPage({ baseURL: server.baseURL });
  });
  after(async () => {
    await page?.close();
    await closeBrowser();
    await server?.stop();
  });

  test('an office admin signs in and sees the dashboard', async () => {
    await signIn(page, 'admin@office.example.gov');
    await visit(page, null, 'dashboard');
    await page.getByRole('heading', { name: /Welcome, Olivia Ortiz/ }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Primary navigation' });
    for (const item of ['Dashboard', 'Organizations', 'Audit log', 'Outbox']) {
      await nav.getByRole('link', { name: item }).waitFor();
    }
    await screenshot(page, 'platform-dashboard');
  });

  test('a wrong password gets one clear message and an accessible error', async () => {
    const other = await newPage({ baseURL: server.baseURL });
    await signIn(other, 'admin@office.example.gov', 'not the password', 'sign-in-again');
    await other.getByText('The email or password is not right').first().waitFor();
    await visit(other, null, 'sign-in-error');
    await other.close();
  });

  test('the admin turns on two-step verification and signs in with a code', async () => {
    await visit(page, '/account/mfa', 'mfa-off');
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await visit(page, null, 'mfa-enrol');
    const secret = (await page.locator('#totp-secret').textContent()).trim();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    await page.getByLabel('Code from your app').fill('000000');
    await page.getByRole('button', { name: 'Turn on two-step verification' }).click();
    await page.getByText('That code is not right').first().waitFor();
    await visit(page, null, 'mfa-wrong-code');
    await page.getByLabel('Code from your app').fill(totp(secret));
    await page.getByRole('button', { name: 'Turn on two-step verification' }).click();
    await page.getByRole('heading', { name: 'Save your recovery codes now' }).waitFor();
    await visit(page, null, 'mfa-recovery-codes');
    const codes = await page.locator('#recovery-codes li').allTextContents();
    assert.equal(codes.length, 10);
    await screenshot(page, 'platform-mfa-codes');

    await signOut(page);
    await signIn(page, 'admin@office.example.gov');
    await page.waitForURL('**/sign-in/verify**');
    await visit(page, null, 'mfa-verify');
    // The enrolment code's step is used; the next step's code is accepted
    // (one step of clock skew is allowed) and is not a replay.
    await page.getByLabel('Verification code').fill(totp(secret, Date.now() + 30_000));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { name: /Welcome/ }).waitFor();
  });

  test('the admin creates an agency', async () => {
    await visit(page, '/orgs', 'org-list');
    await page.getByRole('link', { name: 'New organization' }).click();
    await visit(page, null, 'org-new');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.getByRole('heading', { name: 'There is a problem' }).waitFor();
    await visit(page, null, 'org-new-errors');
    await choose(page, 'radio', /^Agency A member/);
    await page.getByLabel('Name', { exact: true }).fill('Department of Veterans Affairs');
    await page.getByLabel('Short name').fill('va');
    await page.getByLabel('Agency location code (ALC)').fill('36000001');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.getByRole('heading', { level: 1, name: 'Department of Veterans Affairs' }).waitFor();
    await visit(page, null, 'org-show');
    state.orgURL = new URL(page.url()).pathname;
  });

  test('the admin invites the agency admin, who accepts the emailed link', async () => {
    await page.getByRole('link', { name: 'Invite someone' }).first().click();
    await visit(page, null, 'invite');
    await page.getByLabel('Email address').fill('ciso@va.example.gov');
    await page.getByLabel('Name').fill('Vera Adams');
    await choose(page, 'radio', /^Agency admin/);
    await page.getByRole('button', { name: 'Send invitation' }).click();
    await page.getByText('We emailed an invitation to ciso@va.example.gov').waitFor();
    await visit(page, null, 'members');

    // Without SMTP the email waits in the outbox, readable by office admins.
    await visit(page, '/admin/outbox?to=ciso@va.example.gov', 'outbox');
    await page.getByRole('link', { name: /You are invited to Department of Veterans Affairs/ }).click();
    await visit(page, null, 'outbox-message');
    const body = await page.locator('#message-body').textContent();
    const link = body.match(/http:\/\/\S+\/invite\/\S+/)[0];

    const invitee = await newPage({ baseURL: server.baseURL });
    await invitee.goto(link);
    await visit(invitee, null, 'invite-accept');
    await invitee.getByLabel('Full name').fill('Vera Adams');
    await invitee.getByLabel('Choose a password').fill('short');
    await invitee.getByLabel('Type the password again').fill('short');
    await invitee.getByRole('button', { name: 'Create account' }).click();
    await invitee.getByText(/at least 12 characters/i).first().waitFor();
    await visit(invitee, null, 'invite-accept-errors');
    await invitee.getByLabel('Choose a password').fill('river lantern cobalt meadow');
    await invitee.getByLabel('Type the password again').fill('river lantern cobalt meadow');
    await invitee.getByRole('button', { name: 'Create account' }).click();
    await invitee.getByText('Your account is ready').waitFor();
    await signIn(invitee, 'ciso@va.example.gov', 'river lantern cobalt meadow', 'sign-in-invitee');
    await invitee.getByText(/working in\s+Department of Veterans Affairs\s+as Agency admin/i).first().waitFor();
    // The agency admin sees their agency, not the office's list of all organizations.
    const nav = invitee.getByRole('navigation', { name: 'Primary navigation' });
    assert.equal(await nav.getByRole('link', { name: 'Organizations' }).count(), 0);
    await nav.getByRole('link', { name: 'My organization' }).click();
    await visit(invitee, null, 'agency-admin-org');
    const res = await invitee.goto('/orgs');
    assert.equal(res.status(), 200);
    assert.equal(await invitee.getByRole('link', { name: 'Department of Energy' }).count(), 0, 'another agency is listed');
    await invitee.close();
  });

  test('the admin creates an API token, uses it and revokes it', async () => {
    await page.goto(state.orgURL);
    await page.getByRole('link', { name: 'API tokens' }).click();
    await visit(page, null, 'tokens');
    await page.getByLabel('Name').fill('SIEM export');
    await page.getByLabel('Role').selectOption('agency_analyst');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByRole('heading', { name: 'Token “SIEM export” created' }).waitFor();
    await visit(page, null, 'token-created');
    const token = (await page.locator('#new-token').textContent()).trim();
    assert.match(token, /^qsmo_/);
    let res = await fetch(`${server.baseURL}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).memberships[0].role, 'agency_analyst');

    await page.goto(page.url());
    await page.getByRole('button', { name: 'Revoke SIEM export' }).click();
    await page.getByText('The token “SIEM export” is revoked').waitFor();
    res = await fetch(`${server.baseURL}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.code, 'unauthorized');
  });

  test('the admin reads the audit log', async () => {
    await visit(page, '/audit', 'audit');
    await page.getByLabel('Action starts with').fill('token.');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByRole('cell', { name: 'Revoked API token “SIEM export”' }).waitFor();
    await visit(page, null, 'audit-filtered');
    await page.locator('tbody tr').first().getByRole('link').click();
    await page.getByRole('heading', { name: 'Chain' }).waitFor();
    await visit(page, null, 'audit-event');
    await screenshot(page, 'platform-audit-event');
  });

  test('error pages look like the rest of the site', async () => {
    const res = await page.goto('/orgs/org_00000000000000000000000000');
    assert.equal(res.status(), 404);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await visit(page, null, 'not-found');
  });
});
