import { expect, Page } from "@playwright/test";

// Waits until the WASM bundle has hydrated the page, so clicks go through the app.
export async function hydrated(page: Page) {
  await page.waitForFunction(() => (window as any).__wf_hydrated === true, null, { timeout: 30_000 });
}

// Signs in as the operator, onboards a client and continues as that client (on the dashboard).
// Returns the client's API key (shown once on onboarding).
export async function onboardAndSignIn(page: Page, clientName: string): Promise<string> {
  const adminToken = process.env.WORKFORCE_ADMIN_TOKEN;
  expect(adminToken, "WORKFORCE_ADMIN_TOKEN must be set for the browser tests").toBeTruthy();
  await page.goto("/operator");
  await hydrated(page);
  await page.getByLabel("Admin token").fill(adminToken!);
  await page.getByRole("button", { name: "Sign in" }).click();

  await page.locator("input[name=name]").fill(clientName);
  await page.locator("input[name=industry]").fill("insurance");
  await page.locator("select[name=tier]").selectOption("starter");
  await page.getByRole("button", { name: "Onboard client" }).click();
  await expect(page.getByTestId("onboarded")).toContainText(clientName);
  await expect(page.getByTestId("api-key")).toHaveText(/^wfk_[0-9a-f]{16}_[0-9a-f]{48}$/);
  const apiKey = (await page.getByTestId("api-key").textContent())!;
  await page.getByRole("button", { name: "Continue as this client" }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(page.getByRole("heading", { name: clientName })).toBeVisible();
  await hydrated(page);
  return apiKey;
}

// Moves the wizard one step on and waits for the step it lands on.
export async function next(page: Page, step: string) {
  await page.getByRole("button", { name: "Next" }).click();
  await expect(page.getByTestId("wizard-step")).toHaveText(step);
}

// From the dashboard: creates an employee through the wizard and lands on its page.
export async function createEmployee(page: Page, role: string, primaryModel = "") {
  await page.getByRole("link", { name: "New employee" }).click();
  await expect(page).toHaveURL(/\/employees\/new$/);
  await hydrated(page);
  await page.locator("input[name=role]").fill(role);
  await page.locator("input[name=industry]").fill("insurance");
  await next(page, "Expertise and knowledge");
  await page.locator("textarea[name=expertise_areas]").fill("claims\nfraud");
  await next(page, "Personality");
  await page.locator("select[name=communication_style]").selectOption("friendly");
  await next(page, "Models");
  if (primaryModel) await page.locator("select[name=primary_model]").selectOption(primaryModel);
  await next(page, "Tools");
  await next(page, "Review");
  await expect(page.getByTestId("prompt-preview")).toContainText(`a ${role} in the insurance industry`);
  await page.getByRole("button", { name: "Create employee" }).click();
  await expect(page).toHaveURL(/\/employees\/client_[0-9a-f]{24}_emp_[0-9a-f]{24}(\?done=created)?$/);
  await expect(page.getByTestId("status")).toHaveText("active");
}

// Onboards a client, creates an employee answering with `primaryModel` and opens its chat page;
// returns the client's API key.
export async function openChat(page: Page, clientName: string, role: string, primaryModel: string): Promise<string> {
  const apiKey = await onboardAndSignIn(page, clientName);
  await createEmployee(page, role, primaryModel);
  await hydrated(page);
  await page.getByRole("link", { name: "Chat", exact: true }).click();
  await expect(page).toHaveURL(/\/chat$/);
  await hydrated(page);
  return apiKey;
}
