import { test, expect } from "@playwright/test";
import http from "node:http";
import { AddressInfo } from "node:net";
import { hydrated, next, onboardAndSignIn } from "./helpers";

// An OpenAI-compatible chat endpoint that cites the first passage of knowledge when the system
// prompt carries numbered passages, as a model told to cite them would.
const stubPort = Number(process.env.E2E_STUB_PORT ?? 3911);
const seen: any[] = [];
let stub: http.Server;

test.beforeAll(async () => {
  stub = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const request = JSON.parse(body || "{}");
      seen.push(request);
      const system: string = request.messages?.[0]?.content ?? "";
      const last = request.messages?.[request.messages.length - 1]?.content ?? "";
      const reply = system.includes("\n\n[1] ")
        ? `Frames are covered for seven years [1].`
        : `I have no document about: ${last}`;
      const chunk = (delta: object, finish: string | null = null) =>
        `data: ${JSON.stringify({
          id: "chatcmpl-e2e", object: "chat.completion.chunk", created: 0, model: request.model,
          choices: [{ index: 0, delta, finish_reason: finish }],
        })}\n\n`;
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(chunk({ role: "assistant", content: reply }));
      res.write(chunk({}, "stop"));
      res.write(`data: ${JSON.stringify({
        id: "chatcmpl-e2e", object: "chat.completion.chunk", created: 0, model: request.model, choices: [],
        usage: { prompt_tokens: 50, completion_tokens: 8, total_tokens: 58 },
      })}\n\n`);
      res.end("data: [DONE]\n\n");
    });
  });
  await new Promise<void>((resolve) => stub.listen(stubPort, "127.0.0.1", resolve));
  expect((stub.address() as AddressInfo).port).toBe(stubPort);
});

test.afterAll(() => new Promise<void>((resolve) => stub.close(() => resolve())));

test("an admin drops documents on a collection, watches them ingested, and an employee answers citing them", async ({ page }) => {
  await onboardAndSignIn(page, `E2E Knowledge ${Date.now()}`);
  await page.getByRole("link", { name: "Knowledge", exact: true }).click();
  await expect(page).toHaveURL(/\/knowledge$/);
  await hydrated(page);
  await expect(page.getByTestId("no-collections")).toBeVisible();

  await page.locator("input[name=collection_name]").fill("Handbook");
  await page.locator("input[name=collection_description]").fill("How we work");
  await page.getByRole("button", { name: "Create the collection" }).click();
  const card = page.locator('[data-collection="handbook"]');
  await expect(card).toContainText("How we work");
  await expect(card.getByTestId("collection-counts")).toHaveText("0 documents · 0 chunks");

  // A Markdown file dropped on the collection goes up, is queued, read, embedded and ready.
  const dropped = await page.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(
      ["# Warranty\n\nEvery bicycle frame we sell carries a warranty of seven years from delivery.\n"],
      "warranty.md",
      { type: "text/markdown" },
    ));
    return dt;
  });
  await card.getByTestId("drop-zone").dispatchEvent("drop", { dataTransfer: dropped });
  const doc = card.getByTestId("document").filter({ hasText: "warranty" });
  await expect(doc.getByTestId("document-state")).toHaveText("ready", { timeout: 30_000 });
  await expect(doc.getByTestId("document-detail")).toHaveText("1 chunk");
  await expect(doc).toContainText("text/markdown");
  await expect(card.getByTestId("collection-counts")).toHaveText("1 document · 1 chunk");

  // A file of a format documents cannot be read from is refused, saying why, by name.
  await card.locator("input[type=file]").setInputFiles({
    name: "logo.png", mimeType: "image/png", buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47]),
  });
  await expect(card.getByTestId("sending").getByRole("alert")).toContainText("logo.png is not a format documents can be read from");
  await expect(card.getByTestId("document")).toHaveCount(1);

  // The wizard offers the collection as a knowledge source.
  await page.goto("/dashboard");
  await hydrated(page);
  await page.getByRole("link", { name: "New employee" }).click();
  await hydrated(page);
  await page.locator("input[name=role]").fill("Bike mechanic");
  await page.locator("input[name=industry]").fill("retail");
  await next(page, "Expertise and knowledge");
  await page.getByTestId("knowledge-choices").getByLabel("handbook").check();
  await expect(page.locator("textarea[name=knowledge]")).toHaveValue("handbook");
  await next(page, "Personality");
  await next(page, "Models");
  await page.locator("select[name=primary_model]").selectOption("gpt-4o-mini");
  await next(page, "Tools");
  await next(page, "Review");
  await page.getByRole("button", { name: "Create employee" }).click();
  await expect(page.getByTestId("status")).toHaveText("active");
  await hydrated(page);
  const employeePage = page.url();
  await page.getByRole("link", { name: "Chat", exact: true }).click();
  await hydrated(page);

  // Its answer cites the passage; the page lists the cited source, its passage on demand.
  await page.locator("textarea[name=message]").fill("How long is a frame covered?");
  await page.getByRole("button", { name: "Send" }).click();
  const log = page.getByTestId("chat-log");
  await expect(log.getByTestId("answer").last()).toContainText("seven years [1]");
  const source = log.getByTestId("source").last();
  await expect(source).toContainText("[1] warranty · handbook");
  await source.locator("summary").click();
  await expect(source).toContainText("Every bicycle frame we sell carries a warranty of seven years");
  const system: string = seen[seen.length - 1].messages[0].content;
  expect(system).toContain("[1] warranty (handbook)\n");
  expect(system).toContain("carries a warranty of seven years from delivery");
  // It is stored with the turn: there after a reload.
  await page.reload();
  await expect(page.getByTestId("chat-log").getByTestId("source").last()).toContainText("[1] warranty · handbook");

  // Deleting the document takes its passages: the next answer has none to cite.
  await page.goto("/knowledge");
  await hydrated(page);
  page.once("dialog", (d) => d.accept());
  await page.getByRole("button", { name: "Delete warranty" }).click();
  await expect(page.locator('[data-collection="handbook"]').getByTestId("document")).toHaveCount(0);
  await expect(page.locator('[data-collection="handbook"]').getByTestId("collection-counts")).toHaveText("0 documents · 0 chunks");
  await page.goto(employeePage);
  await hydrated(page);
  await page.getByRole("link", { name: "Chat", exact: true }).click();
  await hydrated(page);
  const asked = seen.length;
  await page.locator("textarea[name=message]").fill("And the wheels?");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.getByTestId("chat-log").getByTestId("answer")).toHaveCount(2);
  await expect.poll(() => seen.length).toBeGreaterThan(asked);
  expect(seen[seen.length - 1].messages[0].content).not.toContain("Passages from");
  await expect(page.getByTestId("chat-log").getByTestId("answer").last()).not.toContainText("[1]");
});
