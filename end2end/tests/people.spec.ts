import { test, expect } from "@playwright/test";
import { createEmployee, hydrated, onboardAndSignIn } from "./helpers";

test("an invited member picks a password, signs out and in, and sees only their employees", async ({ page, request }) => {
  const stamp = Date.now();
  const apiKey = await onboardAndSignIn(page, `E2E People ${stamp}`);
  const mine = `Underwriter ${stamp}`;
  const other = `Actuary ${stamp}`;
  await createEmployee(page, mine);
  // An employee's id starts with its client's.
  const [, employee, client] = page.url().match(/\/employees\/((client_[0-9a-f]{24})_emp_[0-9a-f]{24})$/)!;
  await page.goto("/dashboard");
  await hydrated(page);
  await createEmployee(page, other);

  // The client's admin key invites a member given one employee.
  const res = await request.post(`/api/v1/employees/clients/${client}/invites`, {
    headers: { Authorization: `Bearer ${apiKey}` },
    data: { role: "member", employee_ids: [employee] },
  });
  expect(res.status()).toBe(201);
  const invite = await res.json();
  expect(invite.url).toBe(`/invite#${invite.token}`);

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
