import { test, expect } from "@playwright/test";
import http from "node:http";
import { AddressInfo } from "node:net";
import { hydrated, openChat } from "./helpers";

// An OpenAI-compatible chat endpoint; `make test` points the app's `openai` provider at it.
const stubPort = Number(process.env.E2E_STUB_PORT ?? 3911);
const seen: any[] = [];

// An answer as models write them — emphasis, a list, a table, a code block — with a payload that
// must stay inert: HTML and a javascript: link.
const MARKDOWN_REPLY = [
  "Here is **the fix** for `parse`:",
  "",
  "- first step",
  "- second step",
  "",
  "| option | value |",
  "|---|---|",
  "| retries | 3 |",
  "",
  "```rust",
  "fn main() { println!(\"hi\"); }",
  "```",
  "",
  "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>",
  "[click me](javascript:window.__pwned=3)",
].join("\n");
// A long answer, for stopping part-way.
const LONG_REPLY = Array.from({ length: 100 }, (_, i) => `word${i + 1}`).join(" ");
// Messages whose streamed answer was closed by the app before its end.
const closedEarly: string[] = [];
let stub: http.Server;

test.beforeAll(async () => {
  stub = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const request = JSON.parse(body || "{}");
      seen.push(request);
      const last = request.messages?.[request.messages.length - 1]?.content ?? "";
      const reply = last.includes("markdown please")
        ? MARKDOWN_REPLY
        : last.includes("long answer please")
          ? LONG_REPLY
          : `Happy to help with: ${last}`;
      if (request.stream) {
        // Word by word, slowly enough for the page to show the answer growing.
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.on("close", () => {
          if (!res.writableEnded) closedEarly.push(last);
        });
        const chunk = (delta: object, usage: object | null = null) =>
          `data: ${JSON.stringify({
            id: "chatcmpl-e2e", object: "chat.completion.chunk", created: 0, model: request.model,
            choices: usage ? [] : [{ index: 0, delta, finish_reason: null }], usage,
          })}\n\n`;
        const words = reply.split(" ");
        let i = 0;
        const next = () => {
          if (res.destroyed) return;
          if (i < words.length) {
            res.write(chunk({ content: (i === 0 ? "" : " ") + words[i] }));
            i += 1;
            // Slow enough to watch; the bulk history of one test is sent at once.
            setTimeout(next, last.startsWith("note number") ? 0 : 250);
          } else {
            // As OpenAI ends a stream: a piece with the finish reason, then usage, then [DONE].
            res.write(`data: ${JSON.stringify({
              id: "chatcmpl-e2e", object: "chat.completion.chunk", created: 0, model: request.model,
              choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
            })}\n\n`);
            res.write(chunk({}, { prompt_tokens: 10, completion_tokens: words.length, total_tokens: 10 + words.length }));
            res.end("data: [DONE]\n\n");
          }
        };
        next();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({
        id: "chatcmpl-e2e", object: "chat.completion", created: 0, model: request.model,
        choices: [{ index: 0, message: { role: "assistant", content: reply }, finish_reason: "stop" }],
        usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
      }));
    });
  });
  await new Promise<void>((resolve) => stub.listen(stubPort, "127.0.0.1", resolve));
  expect((stub.address() as AddressInfo).port).toBe(stubPort);
});

test.afterAll(() => new Promise<void>((resolve) => stub.close(() => resolve())));

test("a client chats with an employee and finds the conversation again", async ({ page }) => {
  await openChat(page, `E2E Chat ${Date.now()}`, "Claims assistant", "gpt-4o-mini");

  await page.locator("textarea[name=message]").fill("My windscreen cracked on the motorway");
  await page.getByRole("button", { name: "Send" }).click();
  // The answer streams in: part of it is on the page before the rest has been generated.
  const growing = page.getByTestId("chat-pending").getByTestId("answer");
  await expect(growing).toContainText("Happy to help");
  await expect(growing).not.toContainText("motorway", { timeout: 100 }).catch(() => {
    throw new Error("the whole answer arrived at once: it was not streamed");
  });
  const log = page.getByTestId("chat-log");
  await expect(log).toContainText("My windscreen cracked on the motorway");
  await expect(log).toContainText("Happy to help with: My windscreen cracked on the motorway");

  // The model got the employee's personality as its system prompt.
  const request = seen[seen.length - 1];
  expect(request.model).toBe("gpt-4o-mini");
  expect(request.stream).toBe(true);
  expect(request.messages[0].role).toBe("system");
  expect(request.messages[0].content).toContain("a Claims assistant in the insurance industry");

  // The conversation is stored: it is there after a reload.
  await page.reload();
  await expect(page.getByTestId("chat-log")).toContainText("Happy to help with: My windscreen cracked on the motorway");

  // The dashboard counts the turn: on the employee's row and in the day's bar, by model and by
  // employee.
  await page.goto("/dashboard");
  const row = page.getByTestId("employee-row").filter({ hasText: "Claims assistant" });
  await expect(row.getByTestId("turns-this-month")).toHaveText("1");
  const chart = page.getByTestId("usage-chart");
  await expect(chart.getByTestId("legend-item")).toHaveText(["gpt-4o-mini (1)"]);
  await expect(chart.locator("rect")).toHaveCount(1);
  await hydrated(page);
  await page.getByRole("button", { name: "By employee" }).click();
  await expect(chart.getByTestId("legend-item")).toHaveText([/^Claims Assistant · Insurance \(1\)$/]);
  await page.getByRole("button", { name: "Tokens" }).click();
  await expect(chart.locator("svg")).toHaveAttribute("aria-label", /^Tokens per day by employee, .*: [1-9][0-9]* in all$/);
});

test("with the built-in local model, chat works without any provider and the conversation stays", async ({ page }) => {
  // SmolLM2 runs in the server's process, on one core: allow for a long answer.
  test.setTimeout(150_000);
  const asked = seen.length;
  await openChat(page, `E2E Local ${Date.now()}`, "Policy helper", "smollm2-135m-instruct");

  await page.locator("textarea[name=message]").fill("What does home insurance cover?");
  await page.getByRole("button", { name: "Send" }).click();
  const log = page.getByTestId("chat-log");
  await expect(log).toContainText("What does home insurance cover?", { timeout: 120_000 });
  const answer = ((await log.getByTestId("answer").last().textContent()) ?? "").trim();
  expect(answer.length, "the local model answered with some text").toBeGreaterThan(0);
  // The only provider with a key is the stub: it was never asked.
  expect(seen.length).toBe(asked);

  // Stored: after a reload (a new page, as in a later session) the answer is still there.
  await page.reload();
  const firstLine = answer.split("\n")[0].trim().slice(0, 40);
  await expect(page.getByTestId("chat-log")).toContainText(firstLine);
});

test("answers render as Markdown, and HTML or script from the model stays inert", async ({ page }) => {
  await openChat(page, `E2E Markdown ${Date.now()}`, "Code reviewer", "gpt-4o-mini");
  const box = page.locator("textarea[name=message]");
  // Shift+Enter starts a new line; Enter sends.
  await box.click();
  await box.pressSequentially("markdown please");
  await box.press("Shift+Enter");
  await box.pressSequentially("with code");
  await expect(box).toHaveValue("markdown please\nwith code");
  await box.press("Enter");

  const answer = page.getByTestId("chat-log").getByTestId("answer").last();
  await expect(answer.locator("strong")).toHaveText("the fix");
  await expect(answer.locator("li")).toHaveCount(2);
  await expect(answer.locator("td").last()).toHaveText("3");
  await expect(answer.locator(".code-block code")).toContainText('println!("hi")');
  await expect(answer.getByRole("button", { name: "Copy" })).toBeVisible();
  // The payload is shown as text, never run or loaded.
  await expect(answer).toContainText("<script>window.__pwned=2</script>");
  await expect(answer.locator("img, script")).toHaveCount(0);
  await expect(answer.locator("a")).toHaveCount(0);
  await expect(answer).toContainText("click me");
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  // Under the answer: the model that wrote it and its cost.
  await expect(page.getByTestId("turn-model").last()).toHaveText("gpt-4o-mini");
  await expect(page.getByTestId("turn-meta").last()).toContainText("tokens");

  // After a reload it renders the same, and the page opens at the newest message.
  await page.reload();
  await expect(page.getByTestId("answer").last().locator(".code-block")).toBeInViewport();
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
});

test("a long conversation opens at the bottom and loads older turns on scroll", async ({ page, request }) => {
  const apiKey = await openChat(page, `E2E History ${Date.now()}`, "Archivist", "gpt-4o-mini");
  const [, employee, client] = page.url().match(/\/employees\/((client_[0-9a-f]{24})_emp_[0-9a-f]{24})\/chat$/)!;
  // 35 turns through the REST API (more than a page of 30).
  for (let i = 1; i <= 35; i++) {
    const res = await request.post(`/api/v1/employees/clients/${client}/employees/${employee}/interact`, {
      headers: { Authorization: `Bearer ${apiKey}` },
      data: { message: `note number ${i}` },
    });
    expect(res.status(), await res.text()).toBe(200);
  }
  await page.reload();
  await hydrated(page);
  const log = page.getByTestId("chat-log");
  // The exchanges (the lists of recalled memories inside them hold items of their own).
  const turns = log.locator(":scope > li");
  await expect(turns).toHaveCount(30);
  await expect(turns.last()).toContainText("note number 35");
  await expect(turns.last()).toBeInViewport();
  // Scrolling to the top brings the first turns.
  await page.getByText("note number 6", { exact: true }).first().scrollIntoViewIfNeeded();
  await turns.first().scrollIntoViewIfNeeded();
  await expect(turns).toHaveCount(35);
  await expect(turns.first()).toContainText("note number 1");

  // The draft survives a reload.
  await page.locator("textarea[name=message]").fill("half a thought");
  await page.reload();
  await hydrated(page);
  await expect(page.locator("textarea[name=message]")).toHaveValue("half a thought");
});

test("a refused send keeps the message, and Retry answers it once", async ({ page, request }) => {
  const apiKey = await openChat(page, `E2E Retry ${Date.now()}`, "Night shift", "gpt-4o-mini");
  const [, employee, client] = page.url().match(/\/employees\/((client_[0-9a-f]{24})_emp_[0-9a-f]{24})\/chat$/)!;
  const base = `/api/v1/employees/clients/${client}/employees/${employee}`;
  const auth = { Authorization: `Bearer ${apiKey}` };
  expect((await request.post(`${base}/pause`, { headers: auth })).ok()).toBeTruthy();

  await page.locator("textarea[name=message]").fill("Are you there tonight?");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.getByRole("alert")).toContainText("paused");
  await expect(page.getByTestId("pending-message")).toHaveText("Are you there tonight?");

  expect((await request.post(`${base}/resume`, { headers: auth })).ok()).toBeTruthy();
  await page.getByRole("button", { name: "Retry" }).click();
  await expect(page.getByTestId("chat-log")).toContainText("Happy to help with: Are you there tonight?");
  await expect(page.getByTestId("chat-pending")).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId("chat-log").locator(":scope > li")).toHaveCount(1);
});

test("without JavaScript the dashboard lists employees and the chat shows and sends", async ({ page, browser }) => {
  await openChat(page, `E2E NoJS ${Date.now()}`, "Plain talker", "gpt-4o-mini");
  const chatUrl = page.url();
  await page.locator("textarea[name=message]").fill("First, with the script");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.getByTestId("chat-log")).toContainText("Happy to help with: First, with the script");

  const context = await browser.newContext({ javaScriptEnabled: false, storageState: await page.context().storageState() });
  const plain = await context.newPage();
  await plain.goto("/dashboard");
  await expect(plain.getByTestId("employee-row")).toContainText("Plain talker");
  await expect(plain.getByText("Loading")).toHaveCount(0);
  await plain.goto(chatUrl);
  await expect(plain.getByTestId("chat-log")).toContainText("Happy to help with: First, with the script");
  // The plain form sends and the browser comes back to the answer.
  await plain.locator("textarea[name=message]").fill("Second, without it");
  await plain.getByRole("button", { name: "Send" }).click();
  await expect.poll(() => new URL(plain.url()).pathname).toBe(new URL(chatUrl).pathname);
  await expect(plain.getByTestId("chat-log")).toContainText("Happy to help with: Second, without it");
  await context.close();
});

test("the memory browser finds a message by meaning and erases one exchange", async ({ page, request }) => {
  const apiKey = await openChat(page, `E2E Memory ${Date.now()}`, "Concierge", "gpt-4o-mini");
  const [, employee, client] = page.url().match(/\/employees\/((client_[0-9a-f]{24})_emp_[0-9a-f]{24})\/chat$/)!;
  for (const message of ["note number 1: my cat Mochi is afraid of thunderstorms", "note number 2: invoice 4471 is overdue", "note number 3: we moved the office to Leeds"]) {
    const res = await request.post(`/api/v1/employees/clients/${client}/employees/${employee}/interact`, {
      headers: { Authorization: `Bearer ${apiKey}` },
      data: { message },
    });
    expect(res.status(), await res.text()).toBe(200);
  }
  await page.goto(`/employees/${employee}/memory`);
  await hydrated(page);
  await expect(page).toHaveTitle(/Memory of/);
  const items = page.getByTestId("memory-item");
  await expect(items).toHaveCount(3);
  await expect(items.first()).toContainText("Leeds");

  // Exchanges are indexed in the background: search until the index has them.
  await expect
    .poll(async () => {
      await page.getByLabel("Search the memory").fill("pet frightened by storms");
      await page.getByRole("button", { name: "Search" }).click();
      const first = page.getByTestId("memory-result").first();
      await first.waitFor({ timeout: 5_000 }).catch(() => {});
      return (await first.textContent().catch(() => "")) ?? "";
    }, { timeout: 30_000 })
    .toContain("Mochi");
  // The result says which signal found it: meaning here (no word in common).
  await expect(page.getByTestId("memory-result").first().getByTestId("memory-signals")).toContainText("meaning");
  // A number is found by its keyword, and the result says so.
  await page.getByLabel("Search the memory").fill("4471");
  await page.getByRole("button", { name: "Search" }).click();
  const invoice = page.getByTestId("memory-result").filter({ hasText: "note number 2: invoice 4471" });
  await expect(invoice.getByTestId("memory-signals")).toContainText("keywords");

  // Erasing asks first, then the exchange is gone, also after a reload.
  page.once("dialog", (d) => d.accept());
  await items.filter({ hasText: "invoice 4471" }).getByRole("button", { name: "Erase this exchange" }).click();
  await expect(page.getByRole("status")).toContainText("Erased 1 exchange");
  await expect(items).toHaveCount(2);
  await page.reload();
  await expect(page.getByTestId("memory-item")).toHaveCount(2);
  await expect(page.getByTestId("memory-list")).not.toContainText("4471");
});

test("a past conversation imported from a file in the memory browser keeps its own time and is found", async ({ page }) => {
  await openChat(page, `E2E Import ${Date.now()}`, "Archivist", "gpt-4o-mini");
  const [, employee] = page.url().match(/\/employees\/((client_[0-9a-f]{24})_emp_[0-9a-f]{24})\/chat$/)!;
  await page.goto(`/employees/${employee}/memory`);
  await hydrated(page);
  await page.getByText("Import a past conversation").click();

  // A bad line is refused with its number, and nothing is stored.
  await page.getByLabel("…or the lines themselves").fill('{"role": "user", "content": "hi", "occurred_at": "2021-06-01T09:00:00Z"}\nnot json');
  await page.getByRole("button", { name: "Import", exact: true }).click();
  await expect(page.getByRole("alert")).toContainText("line 2");
  await expect(page.getByTestId("memory-item")).toHaveCount(0);

  const lines = [
    { id: "a1", role: "user", content: "Our warehouse in Rotterdam ships pallet code RX-5521 every Friday", occurred_at: "2021-06-04T09:00:00Z" },
    { id: "a2", role: "assistant", content: "Noted: RX-5521 leaves Rotterdam on Fridays.", occurred_at: "2021-06-04T09:00:05Z" },
    { id: "a3", role: "user", content: "The auditor visits in September", occurred_at: "2021-06-05T10:00:00Z" },
    { id: "a4", role: "assistant", content: "I will prepare the files.", occurred_at: "2021-06-05T10:00:03Z" },
  ].map((l) => JSON.stringify(l)).join("\n");
  await page.getByLabel("A file (.jsonl)").setInputFiles({ name: "history.jsonl", mimeType: "application/x-ndjson", buffer: Buffer.from(lines) });
  await expect(page.getByLabel("…or the lines themselves")).toHaveValue(/RX-5521/);
  await page.getByRole("button", { name: "Import", exact: true }).click();
  await expect(page.getByTestId("import-report")).toContainText("Stored 4 line(s) as 2 exchange(s)");
  // The list shows them at once, at their own time.
  const items = page.getByTestId("memory-item");
  await expect(items).toHaveCount(2);
  await expect(items.filter({ hasText: "RX-5521" })).toContainText("2021-06-04 09:00 UTC");

  // The same file again stores nothing twice.
  await page.getByRole("button", { name: "Import", exact: true }).click();
  await expect(page.getByTestId("import-report")).toContainText("4 line(s) were already stored");
  await expect(items).toHaveCount(2);

  // Search finds it by its code.
  await page.getByLabel("Search the memory").fill("RX-5521");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByTestId("memory-result").first()).toContainText("Rotterdam");
});

test("Stop ends an answer part-way, keeps what was written and closes the model's request", async ({ page }) => {
  await openChat(page, `E2E Stop ${Date.now()}`, "Policy explainer", "gpt-4o-mini");
  await page.locator("textarea[name=message]").fill("A long answer please");
  await page.getByRole("button", { name: "Send" }).click();
  const growing = page.getByTestId("chat-pending").getByTestId("answer");
  await expect(growing).toContainText("word3");
  await page.getByRole("button", { name: "Stop" }).click();

  // The answer ends where it was stopped, is said to be stopped, and the composer is free again.
  const log = page.getByTestId("chat-log");
  await expect(log.getByTestId("turn-stopped")).toHaveCount(1);
  const kept = ((await log.getByTestId("answer").last().textContent()) ?? "").trim();
  expect(kept).toMatch(/^word1 word2 word3/);
  expect(kept).not.toContain("word100");
  await expect(page.getByRole("button", { name: "Send" })).toBeVisible();
  await expect.poll(() => closedEarly.includes("A long answer please")).toBe(true);

  // Stored as it was shown.
  await page.reload();
  await expect(page.getByTestId("chat-log").getByTestId("turn-stopped")).toHaveCount(1);
  await expect(page.getByTestId("chat-log").getByTestId("answer").last()).toHaveText(kept);
});
