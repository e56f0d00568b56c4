import { test, expect } from "@playwright/test";
import { createEmployee, hydrated, onboardAndSignIn } from "./helpers";

test("an invited member picks a password, signs out and in, and sees only their employees", async ({ page, request }) => {
  const stamp = Date.now();
  const apiKey = await onboardAndSignIn(page, `E2E People ${stamp}`);
  const mine = `Underwriter ${stamp}`;
  const other = `Actuary ${stamp}`;
  await createEmployee(page, mine);
  // An employee's id starts with its client's.
  const [, , client] = page.url().match(/\/employees\/((client_[0-9a-f]{24})_emp_[0-9a-f]{24})(\?done=created)?$/)!;
  await page.goto("/dashboard");
  await hydrated(page);
  await createEmployee(page, other);

  // The account page: the client (signed in with its admin key) invites a member given one
  // employee; the link is shown once.
  await page.getByRole("link", { name: "People and keys" }).click();
  await expect(page).toHaveTitle(/People and keys/);
  await hydrated(page);
  await page.locator("select[name=role]").selectOption("member");
  await page.getByRole("checkbox", { name: new RegExp(mine) }).check();
  await page.getByRole("button", { name: "Make an invitation link" }).click();
  const shown = (await page.getByTestId("invite-url").textContent())!;
  expect(shown).toMatch(/^http:\/\/[^/]+\/invite#.+/);
  const invite = { url: shown.replace(/^http:\/\/[^/]+/, "") };

  // A key made here is shown once, listed by its prefix, and revoked after a confirmation.
  await page.locator("input[name=key_name]").fill("Support widget");
  await page.getByRole("button", { name: "Make the key" }).click();
  await expect(page.getByTestId("new-key")).toHaveText(/^wfk_[0-9a-f]{16}_[0-9a-f]{48}$/);
  const made = (await page.getByTestId("new-key").textContent())!;
  const row = page.getByTestId("key-row").filter({ hasText: "Support widget" });
  await expect(row).toContainText(made.slice(0, 21));
  await expect(row).not.toContainText(made.slice(21));
  page.once("dialog", (d) => d.accept());
  await row.getByRole("button", { name: "Revoke" }).click();
  await expect(row.getByTestId("revoked")).toBeVisible();
  const revoked = await request.get(`/api/v1/employees/clients/${client}/employees`, {
    headers: { Authorization: `Bearer ${made}` },
  });
  expect(revoked.status()).toBe(401);

  // Another person's browser: nothing signed in.
  await page.context().clearCookies();
  await page.goto(invite.url);
  await hydrated(page);
  const email = `member-${stamp}@example.com`;
  const password = "a member's long password";
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create my account" }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  const rows = page.getByTestId("employee-row");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText(mine);
  await expect(page.getByRole("link", { name: "New employee" })).toHaveCount(0);
  // A member sees no people or keys: no link, and the page itself refuses.
  await expect(page.getByRole("link", { name: "People and keys" })).toHaveCount(0);
  await page.goto("/account");
  await expect(page.getByRole("alert")).toBeVisible();
  await expect(page.getByTestId("key-row")).toHaveCount(0);
  await expect(page.getByTestId("member-row")).toHaveCount(0);

  // The invite link works once.
  await page.context().clearCookies();
  await page.goto(invite.url);
  await hydrated(page);
  await page.getByLabel("Email").fill(`someone-else-${stamp}@example.com`);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create my account" }).click();
  await expect(page.getByText("this invite link is not valid")).toBeVisible();

  // Signing in with the password; signing out ends the session.
  await page.goto("/signin");
  await hydrated(page);
  await page.getByLabel("Password").fill("not the password at all");
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByText("wrong email or password", { exact: false })).toBeVisible();
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(page.getByTestId("employee-row")).toHaveCount(1);

  await page.goto("/signin");
  await hydrated(page);
  await page.getByRole("main").getByRole("button", { name: "Sign out", exact: true }).click();
  await expect(page).toHaveURL(/\/$/);
  await page.goto("/dashboard");
  await expect(page.getByText("You are not signed in as a client.")).toBeVisible();
});
