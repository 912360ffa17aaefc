//! The labeled query set of `bench/search/` and its measurement, shared by the eval example
//! (`examples/search_eval.rs`) and the regression test (`tests/it/search_quality.rs`), so that
//! both count recall the same way. Test-only (feature `testkit`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ToolIndex;

/// Why the labeled set could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not JSON.
    #[error("{path} is not valid json: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// A file is JSON but not of the expected shape.
    #[error("{path}: {what}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
}

/// One labeled query.
#[derive(Debug, Clone)]
pub struct Query {
    /// The question, as a user would ask it.
    pub query: String,
    /// The tools that answer it, as `server/tool`.
    pub answers: Vec<String>,
    /// Whether it belongs to the held-out third (never looked at while tuning).
    pub held_out: bool,
}

/// The catalogue and the queries.
#[derive(Debug)]
pub struct Labeled {
    /// `(server, definition)` in catalogue order.
    pub tools: Vec<(String, Value)>,
    /// The labeled queries.
    pub queries: Vec<Query>,
}

impl Labeled {
    /// Reads `catalogue.json` and `queries.json` from `dir` (normally `bench/search`).
    pub fn load(dir: &Path) -> Result<Labeled, LoadError> {
        let catalogue = read(&dir.join("catalogue.json"))?;
        let queries = read(&dir.join("queries.json"))?;
        let shape = |path: &str, what: &str| LoadError::Shape { path: dir.join(path), what: what.to_owned() };
        let mut tools = Vec::new();
        for server in catalogue
            .get("servers")
            .and_then(Value::as_array)
            .ok_or_else(|| shape("catalogue.json", "no servers array"))?
        {
            let name = server
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| shape("catalogue.json", "a server without a name"))?;
            for tool in server
                .get("tools")
                .and_then(Value::as_array)
                .ok_or_else(|| shape("catalogue.json", "a server without tools"))?
            {
                tools.push((name.to_owned(), tool.clone()));
            }
        }
        let mut out = Vec::new();
        for q in
            queries.get("queries").and_then(Value::as_array).ok_or_else(|| shape("queries.json", "no queries array"))?
        {
            let query =
                q.get("query").and_then(Value::as_str).ok_or_else(|| shape("queries.json", "a query without text"))?;
            let answers = q
                .get("answers")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect::<Vec<_>>())
                .filter(|a| !a.is_empty())
                .ok_or_else(|| shape("queries.json", "a query without answers"))?;
            let held_out = q.get("held_out").and_then(Value::as_bool).unwrap_or(false);
            out.push(Query { query: query.to_owned(), answers, held_out });
        }
        Ok(Labeled { tools, queries: out })
    }

    /// The index over the whole catalogue.
    pub fn index(&self) -> ToolIndex {
        ToolIndex::build(self.tools.iter().map(|(s, d)| (s.as_str(), d)))
    }
}

fn read(path: &Path) -> Result<Value, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read { path: path.to_owned(), source })?;
    serde_json::from_str(&text).map_err(|source| LoadError::Json { path: path.to_owned(), source })
}

/// The rank (1-based) of the first answering tool in the top `depth` hits of `query`, if any.
pub fn rank(index: &ToolIndex, query: &Query, depth: usize) -> Option<usize> {
    index
        .search(&query.query, depth, |_, _| true)
        .iter()
        .position(|h| query.answers.iter().any(|a| a.split_once('/') == Some((h.server, h.tool))))
        .map(|p| p + 1)
}

/// Recall at 1, 3 and 5 of a set of queries: the share of queries with an answering tool in
/// the top k. A query with several acceptable answers counts once, when any of them is there.
#[derive(Debug, Default, Clone, Copy)]
pub struct Recall {
    /// Queries counted.
    pub n: usize,
    /// Queries answered in the top 1, 3 and 5.
    pub hits: [usize; 3],
}

impl Recall {
    /// Counts one query whose first answer came at `rank`.
    pub fn add(&mut self, rank: Option<usize>) {
        self.n += 1;
        for (hit, k) in self.hits.iter_mut().zip([1, 3, 5]) {
            if rank.is_some_and(|r| r <= k) {
                *hit += 1;
            }
        }
    }

    /// Recall at the `i`-th cut-off (0: @1, 1: @3, 2: @5).
    pub fn at(&self, i: usize) -> f64 {
        let hits = self.hits.get(i).copied().unwrap_or(0);
        if self.n == 0 { 0.0 } else { hits as f64 / self.n as f64 }
    }
}
