import { test, expect } from "@playwright/test";
import { createEmployee, hydrated, onboardAndSignIn } from "./helpers";

test("operator onboards a client, who creates, sees and pauses an employee", async ({ page }) => {
  const role = `Claims handler ${Math.floor(Math.random() * 1e6)}`;
  await onboardAndSignIn(page, `E2E Bank ${Date.now()}`);
  await createEmployee(page, role);

  // The dashboard lists it — also after a full reload.
  await page.goto("/dashboard");
  await page.reload();
  const row = page.getByTestId("employee-row").filter({ hasText: role });
  await expect(row).toHaveCount(1);
  // Under the list: usage, the month's budgets and the limits in force.
  await expect(page.getByTestId("usage-totals")).toContainText("answered turns");
  await expect(page.getByTestId("limits")).toContainText("starter tier");
  await expect(row.getByTestId("status")).toHaveText("active");

  await hydrated(page);
  await row.getByRole("link").first().click();
  await hydrated(page);

  // The page shows the system prompt the personality produces, as the model will get it.
  await page.getByTestId("system-prompt").locator("summary").click();
  await expect(page.getByTestId("system-prompt")).toContainText(`a ${role} in the insurance industry`);

  // Editing goes through the same wizard, starting from what the employee is now.
  await page.getByRole("link", { name: "Edit" }).click();
  await hydrated(page);
  await page.locator("input[name=name]").fill(`Ava ${role}`);
  await page.getByRole("button", { name: "6. Review" }).click();
  await expect(page.getByTestId("review-name")).toHaveText(`Ava ${role}`);
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByTestId("done")).toHaveText("Changes saved.");
  await expect(page.getByTestId("employee-name")).toHaveText(`Ava ${role}`);

  await page.getByRole("button", { name: "Pause" }).click();
  await expect(page.getByTestId("status")).toHaveText("paused");
  await expect(page.getByRole("button", { name: "Resume" })).toBeVisible();

  // The pause was stored: a fresh load of the dashboard shows it, with the row's activity.
  await page.goto("/dashboard");
  const paused = page.getByTestId("employee-row").filter({ hasText: role });
  await expect(paused.getByTestId("status")).toHaveText("paused");
  await expect(paused.getByTestId("turns-this-month")).toHaveText("0");
  await expect(paused.getByTestId("last-activity")).toHaveText("never");
  await expect(page.getByTestId("usage-chart")).toContainText("Nothing in this period yet.");
  // The row's quick action resumes it, and pauses it again.
  await hydrated(page);
  await paused.getByRole("button", { name: "Resume" }).click();
  await expect(paused.getByTestId("status")).toHaveText("active");
  await paused.getByRole("button", { name: "Pause" }).click();
  await expect(paused.getByTestId("status")).toHaveText("paused");

  // The audit page: the chain verifies, the newest event first, and a filter by action.
  await page.getByRole("link", { name: "Audit" }).click();
  await expect(page).toHaveTitle(/Audit trail/);
  await expect(page.getByTestId("chain-verdict")).toContainText("Chain verified");
  await expect(page.getByTestId("audit-action").first()).toHaveText("employee.pause");
  await hydrated(page);
  await page.getByLabel("Action").selectOption("employee.create");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page.getByTestId("audit-row")).toHaveCount(1);
  await expect(page.getByTestId("audit-row")).toContainText("by api_key:");
});

test("the operator sees each client's employees and month, and changes its limits", async ({ page }) => {
  const name = `E2E Limits ${Date.now()}`;
  await onboardAndSignIn(page, name);
  await createEmployee(page, "Limits probe");

  // Back to the console (the operator's cookie is still there).
  await page.goto("/operator");
  const row = page.getByTestId("client-row").filter({ hasText: name });
  await expect(row.getByTestId("client-figures")).toHaveText(/^1 of \d+ employees · this month: 0 turns, 0 tokens$/);
  await hydrated(page);
  await row.getByRole("link", { name: "Limits" }).click();
  await expect(page).toHaveTitle(/Client limits/);
  await hydrated(page);
  await expect(page.getByTestId("in-force-monthly_tokens")).toContainText("(the tier's)");

  // A value that is not a number is named before anything is sent; a good one is in force.
  await page.locator("input[name=burst]").fill("many");
  await expect(page.getByTestId("field-error")).toHaveText("must be a whole number");
  await expect(page.getByRole("button", { name: "Save limits" })).toBeDisabled();
  await page.locator("input[name=burst]").fill("");
  await page.locator("input[name=monthly_tokens]").fill("123456");
  await page.getByRole("button", { name: "Save limits" }).click();
  await expect(page.getByTestId("done")).toBeVisible();
  await expect(page.getByTestId("in-force-monthly_tokens")).toHaveText("In force: 123456 (set here)");
  await page.reload();
  await expect(page.locator("input[name=monthly_tokens]")).toHaveValue("123456");
});
