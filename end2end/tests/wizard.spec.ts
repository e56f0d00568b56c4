import { test, expect, Page } from "@playwright/test";
import { hydrated, next, onboardAndSignIn } from "./helpers";

// Sets a range input the way a drag does (Playwright cannot fill one).
async function slide(page: Page, name: string, value: number) {
  await page.locator(`input[name=${name}]`).evaluate((el, v) => {
    const input = el as HTMLInputElement;
    input.value = String(v);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }, value);
}

test("the wizard checks each field as it is typed, keeps a half-done draft, previews the exact prompt and creates once", async ({ page }) => {
  const stamp = Math.floor(Math.random() * 1e6);
  const role = `Underwriter ${stamp}`;
  await onboardAndSignIn(page, `Wizard Mutual ${Date.now()}`);
  await page.getByRole("link", { name: "New employee" }).click();
  await hydrated(page);

  // Next with nothing entered: each missing field says so next to itself, and the step stays.
  await page.getByRole("button", { name: "Next" }).click();
  await expect(page.getByTestId("wizard-step")).toHaveText("Role and industry");
  await expect(page.locator("#role-error")).toHaveText("Is required");
  await expect(page.locator("#industry-error")).toHaveText("Is required");
  await expect(page.locator("input[name=role]")).toHaveAttribute("aria-invalid", "true");
  // Typing clears the error at once, before anything is sent.
  await page.locator("input[name=role]").fill(role);
  await expect(page.locator("#role-error")).toHaveCount(0);
  await page.locator("input[name=industry]").fill("marine insurance");
  await expect(page.locator("select[name=language]")).toHaveValue("en");
  await page.locator("select[name=language]").selectOption("pt");
  await next(page, "Expertise and knowledge");
  await page.locator("textarea[name=expertise_areas]").fill("hull cover\ncargo claims");

  // Back keeps what was entered.
  await page.getByRole("button", { name: "Back" }).click();
  await expect(page.locator("input[name=role]")).toHaveValue(role);
  await next(page, "Expertise and knowledge");
  await expect(page.locator("textarea[name=expertise_areas]")).toHaveValue("hull cover\ncargo claims");
  await next(page, "Personality");

  // Personality: choices, sliders with their meaning, custom traits as rows.
  await page.locator("select[name=communication_style]").selectOption("technical");
  await page.locator("select[name=formality_level]").selectOption("formal");
  await slide(page, "creativity_level", 0.9);
  await expect(page.getByTestId("creativity_level-value")).toHaveText("0.90 (high)");
  await page.getByRole("button", { name: "Add a trait" }).click();
  await page.getByLabel("Trait", { exact: true }).fill("Not a key!");
  await page.getByLabel("Value", { exact: true }).fill("Kind regards");
  await expect(page.getByTestId("field-error")).toContainText("“Not a key!” must be 1–64 characters");
  await page.getByRole("button", { name: "Next" }).click();
  await expect(page.getByTestId("wizard-step")).toHaveText("Personality");
  await page.getByLabel("Trait", { exact: true }).fill("sign_off");
  await expect(page.getByTestId("field-error")).toHaveCount(0);
  await next(page, "Models");

  // A reload in the middle keeps the step and everything entered.
  await page.locator("input[name=temperature]").fill("warm");
  await expect(page.locator("#temperature-error")).toHaveText("Must be a number, such as 0.7");
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("wizard-step")).toHaveText("Models");
  await expect(page.locator("input[name=temperature]")).toHaveValue("warm");
  await page.locator("input[name=temperature]").fill("");
  await expect(page.getByText("In force: 0.92")).toBeVisible();
  await page.getByRole("button", { name: "Add a fallback" }).click();
  await expect(page.getByTestId("fallback-row")).toHaveCount(1);
  await next(page, "Tools");
  // The catalogue's tools are offered as choices; a name typed in the list checks its box.
  await expect(page.getByTestId("tool-choices").getByRole("checkbox")).toHaveCount(3);
  await page.locator("textarea[name=tools]").fill("current_time");
  await expect(page.getByRole("checkbox", { name: /current_time/ })).toBeChecked();
  await page.getByRole("checkbox", { name: /memory_search/ }).check();
  await expect(page.locator("textarea[name=tools]")).toHaveValue("current_time\nmemory_search");
  await page.getByRole("checkbox", { name: /memory_search/ }).uncheck();
  await next(page, "Review");

  // The review shows what the server will store and send: the name, the exact prompt, sampling.
  await expect(page.getByTestId("review-name")).toHaveText(`${role} · Marine Insurance`);
  const prompt = page.getByTestId("prompt-preview");
  await expect(prompt).toContainText(`You are ${role} · Marine Insurance, a ${role} in the marine insurance industry, with expertise in hull cover and cargo claims.`);
  await expect(page.getByTestId("review-language")).toHaveText("Portuguese");
  await expect(prompt).toContainText("Reply in Portuguese, unless the person writes to you in another language.");
  await expect(prompt).toContainText("- sign_off: Kind regards");
  await expect(prompt).toContainText("Tools you may use: current_time.");
  await expect(page.getByTestId("review-sampling")).toHaveText("temperature 0.92, at most 2000 tokens per answer");
  const previewed = await prompt.textContent();

  // Two quick clicks create one employee.
  await page.getByRole("button", { name: "Create employee" }).dblclick();
  await expect(page.getByTestId("done")).toHaveText("Employee created. It is ready to chat.");
  await page.getByTestId("system-prompt").locator("summary").click();
  // The stored employee's prompt is the one the review showed.
  await expect(page.getByTestId("system-prompt").locator("pre")).toHaveText(previewed!);
  await page.goto("/dashboard");
  await expect(page.getByTestId("employee-row").filter({ hasText: role })).toHaveCount(1);

  // A new wizard starts empty: the finished draft was forgotten.
  await hydrated(page);
  await page.getByRole("link", { name: "New employee" }).click();
  await hydrated(page);
  await expect(page.locator("input[name=role]")).toHaveValue("");
});
