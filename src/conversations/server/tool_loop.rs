//! Function calling inside a turn: the conversation grows by the model's calls and their
//! results, round after round, until an answer calls no tool (or the last round, which may
//! not). Used by the whole answer (`service::interact`) and the streamed one (`stream`).

use crate::accounts::ClientPrincipal;
use crate::ai::{ChatMessage, ChatRequest, Completion};
use crate::core::{AppError, EmployeeId};
use crate::platform::AppState;
use crate::tools::server::exec::{run_calls, CallContext, Toolbox};
use crate::tools::ToolCallRecord;
use std::borrow::Cow;
use std::time::{Duration, Instant};

/// The tool calls of a turn so far, and how many model answers asked for them.
#[derive(Default)]
pub(super) struct ToolLog {
    pub calls: Vec<ToolCallRecord>,
    pub rounds: u32,
    /// The tokens of the model answers that asked for tools (prompt, completion).
    pub spent: (u32, u32),
}

/// Where a turn's function calling stands: the request for the next model call (the
/// conversation so far, with the calls and their results), the calls made, and the end of the
/// turn's time for tools.
pub(super) struct ToolLoop<'t> {
    /// The turn's own request until a round adds to it (copied then, so a turn without tool
    /// calls copies nothing).
    pub request: Cow<'t, ChatRequest>,
    pub log: ToolLog,
    max_rounds: u32,
    deadline: Instant,
    /// The tools the employee is offered this turn.
    toolbox: &'t Toolbox,
}

impl<'t> ToolLoop<'t> {
    /// From the turn's first request and its tools.
    pub fn new(state: &AppState, request: &'t ChatRequest, toolbox: &'t Toolbox) -> Self {
        let limits = &state.settings.file.limits;
        ToolLoop {
            request: Cow::Borrowed(request),
            log: ToolLog::default(),
            max_rounds: limits.max_tool_rounds,
            deadline: Instant::now() + Duration::from_secs(limits.tool_budget_seconds),
            toolbox,
        }
    }

    /// The catalogue name of a tool the model calls by `model_name` (`server/tool` for
    /// `server__tool`), as the page and the stream show it.
    pub fn shown_name<'n>(&'n self, model_name: &'n str) -> &'n str {
        self.toolbox.shown_name(model_name)
    }

    /// Whether the model's answer asks for tools that this turn will run (else it is the
    /// answer): tools are offered and the model was free to call them.
    pub fn wants_tools(&self, calls: &[crate::ai::types::ToolCall]) -> bool {
        !calls.is_empty() && !self.request.tools.is_empty() && !self.request.tools_closed
    }

    /// Runs the calls of the model's answer (`text`, `calls`), records them, and puts the
    /// answer and the results in the conversation for the next model call. Past the last
    /// round or the time budget, the next call may not ask for tools.
    pub async fn run(
        &mut self,
        state: &AppState,
        who: &ClientPrincipal,
        id: &EmployeeId,
        text: String,
        calls: Vec<crate::ai::types::ToolCall>,
    ) -> &[ToolCallRecord] {
        self.log.rounds += 1;
        let ctx = CallContext {
            state,
            who,
            employee: id,
            toolbox: self.toolbox,
            deadline: self.deadline,
        };
        let outcomes = run_calls(&ctx, &calls, self.log.rounds).await;
        let request = self.request.to_mut();
        request.messages.push(ChatMessage::Assistant {
            text,
            tool_calls: calls,
        });
        let first = self.log.calls.len();
        for o in outcomes {
            request.messages.push(ChatMessage::Tool {
                call_id: o.record.id.clone(),
                text: o.for_model,
            });
            self.log.calls.push(o.record);
        }
        request.tools_closed =
            self.log.rounds >= self.max_rounds || Instant::now() >= self.deadline;
        &self.log.calls[first..]
    }
}

/// The answer of a turn with tools: ask the models, run the calls they make, ask again with the
/// results, until an answer calls none (or the last round, which may not). Tokens add up over
/// the rounds; the calls are in `tools.log` whatever the outcome.
pub(super) async fn complete_with_tools(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    tools: &mut ToolLoop<'_>,
) -> Result<Completion, AppError> {
    loop {
        let mut answer = state.router.complete(&tools.request).await?;
        if !tools.wants_tools(&answer.tool_calls) {
            answer.prompt_tokens += tools.log.spent.0;
            answer.completion_tokens += tools.log.spent.1;
            answer.tool_calls.clear();
            return Ok(answer);
        }
        tools.log.spent.0 += answer.prompt_tokens;
        tools.log.spent.1 += answer.completion_tokens;
        let calls = std::mem::take(&mut answer.tool_calls);
        tools.run(state, who, id, answer.text, calls).await;
    }
}
