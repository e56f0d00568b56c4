import { test, expect, Page } from "@playwright/test";

const adminToken = process.env.WORKFORCE_ADMIN_TOKEN;

// Waits until the WASM bundle has hydrated the page, so clicks go through the app.
async function hydrated(page: Page) {
  await page.waitForFunction(() => (window as any).__wf_hydrated === true, null, { timeout: 30_000 });
}

test("operator onboards a client, who creates, sees and pauses an employee", async ({ page }) => {
  expect(adminToken, "WORKFORCE_ADMIN_TOKEN must be set for the browser test").toBeTruthy();
  const clientName = `E2E Bank ${Date.now()}`;
  const role = `Claims handler ${Math.floor(Math.random() * 1e6)}`;

  await page.goto("/operator");
  await hydrated(page);
  await page.getByLabel("Admin token").fill(adminToken!);
  await page.getByRole("button", { name: "Sign in" }).click();

  await page.locator("input[name=name]").fill(clientName);
  await page.locator("input[name=industry]").fill("insurance");
  await page.locator("select[name=tier]").selectOption("starter");
  await page.getByRole("button", { name: "Onboard client" }).click();

  const onboarded = page.getByTestId("onboarded");
  await expect(onboarded).toContainText(clientName);
  await expect(page.getByTestId("api-key")).toHaveText(/^wfk_[0-9a-f]{16}_[0-9a-f]{48}$/);
  await page.getByRole("button", { name: "Continue as this client" }).click();

  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(page.getByRole("heading", { name: clientName })).toBeVisible();
  await hydrated(page);
  await page.getByRole("link", { name: "New employee" }).click();

  await expect(page).toHaveURL(/\/employees\/new$/);
  await page.locator("input[name=role]").fill(role);
  await page.locator("input[name=industry]").fill("insurance");
  await page.locator("select[name=communication_style]").selectOption("friendly");
  await page.locator("input[name=expertise_areas]").fill("claims, fraud");
  await page.getByRole("button", { name: "Create employee" }).click();

  // The new employee's page, then the dashboard lists it — also after a full reload.
  await expect(page).toHaveURL(/\/employees\/client_[0-9a-f]{24}_emp_[0-9a-f]{24}$/);
  await expect(page.getByTestId("status")).toHaveText("active");
  await page.goto("/dashboard");
  await page.reload();
  const row = page.getByTestId("employee-row").filter({ hasText: role });
  await expect(row).toHaveCount(1);
  await expect(row.getByTestId("status")).toHaveText("active");

  await hydrated(page);
  await row.getByRole("link").click();
  await hydrated(page);
  await page.getByRole("button", { name: "Pause" }).click();
  await expect(page.getByTestId("status")).toHaveText("paused");
  await expect(page.getByRole("button", { name: "Resume" })).toBeVisible();

  // The pause was stored: a fresh load of the dashboard shows it.
  await page.goto("/dashboard");
  await expect(page.getByTestId("employee-row").filter({ hasText: role }).getByTestId("status")).toHaveText("paused");
});
