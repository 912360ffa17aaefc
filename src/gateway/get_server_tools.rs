//! `get_server_tools`: the definitions of the tools an agent may call on one server.

use crate::downstream::catalog::{ToolDef, compact_len};
use crate::error::GatewayError;
use crate::gateway::call::Call;
use crate::gateway::reply::{ToolReply, structured};
use crate::policy::glob::glob_match;
use crate::wire::build::json_string;

/// Lists the permitted tools of a server, filtered by `names` and `pattern`, within an
/// optional token budget. Counts cover permitted tools only, so denied tools stay invisible;
/// so do tools quarantined by the lock ([`crate::gateway::pins`]).
/// The definitions are the server's own bytes, never re-encoded.
pub(crate) async fn run(call: &mut Call<'_>) -> Result<ToolReply, GatewayError> {
    let server = call.params.req_str("server")?;
    let names = call.params.names("names")?;
    let pattern = call.params.opt_str("pattern")?;
    let budget = call.params.opt_positive("max_schema_tokens")?;
    call.record.server = Some(server.to_string());
    call.judge(&server, None)?;
    let downstream = call.server(&server)?;
    let tools = downstream.tools(downstream.timeout(None)).await?;

    let mut selected = Vec::new();
    for tool in tools.iter() {
        let name = tool.name.as_str();
        if names.as_ref().is_some_and(|n| !n.iter().any(|x| x == name)) {
            continue;
        }
        if pattern.as_deref().is_some_and(|p| !glob_match(p, name)) {
            continue;
        }
        if call.may_call(&server, name) && call.pin(&downstream, tool).await.serves() {
            selected.push(shown(tool));
        }
    }
    let total_available = selected.len();
    let within = Budgeted::take(selected, budget);
    let body = format!(
        r#"{{"server":{},"tools":[{}],"total_available":{total_available},{}}}"#,
        json_string(&server),
        within.tools.join(","),
        within.counts()
    );
    Ok(ToolReply::Json(structured(&body)))
}

/// Definitions taken in order while they fit a token budget (`get_server_tools`,
/// `search_tools`): the first that does not fit ends the list.
pub(crate) struct Budgeted {
    /// The definitions taken, as JSON text.
    pub tools: Vec<String>,
    tokens_used: u64,
    truncated: bool,
}

impl Budgeted {
    /// Takes `(definition, tokens)` pairs while their total stays within `budget`.
    pub fn take(shown: impl IntoIterator<Item = (String, u64)>, budget: Option<u64>) -> Budgeted {
        let mut taken = Budgeted { tools: Vec::new(), tokens_used: 0, truncated: false };
        for (tool, tokens) in shown {
            if budget.is_some_and(|b| taken.tokens_used + tokens > b) {
                taken.truncated = true;
                break;
            }
            taken.tokens_used += tokens;
            taken.tools.push(tool);
        }
        taken
    }

    /// The members that report it: `"returned":N,"tokens_used":T`, and `"truncated":true`.
    pub fn counts(&self) -> String {
        let mut out = format!(r#""returned":{},"tokens_used":{}"#, self.tools.len(), self.tokens_used);
        if self.truncated {
            out.push_str(r#","truncated":true"#);
        }
        out
    }
}

/// The members of a definition that `get_server_tools` shows.
const SHOWN: [&str; 5] = ["name", "description", "inputSchema", "outputSchema", "annotations"];

/// A tool as the agent sees it (its name, description, schemas and annotations, exactly as
/// the server wrote them, compacted), and its token estimate (compact JSON bytes / 4,
/// rounded up).
pub(crate) fn shown(tool: &ToolDef) -> (String, u64) {
    let members = tool.members();
    let mut text = String::from("{");
    for key in SHOWN {
        let value = match (key, members.get(key)) {
            (_, Some(v)) => v.get(),
            ("description", None) => "\"\"",
            (_, None) => continue,
        };
        if text.len() > 1 {
            text.push(',');
        }
        text.push_str(&json_string(key));
        text.push(':');
        text.push_str(value);
    }
    text.push('}');
    let tokens = (compact_len(&text) as u64).div_ceil(4);
    (text, tokens)
}
