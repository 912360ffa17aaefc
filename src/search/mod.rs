//! Tool search: ranks tool definitions by relevance to a natural-language query (DESIGN
//! section 13, `search_tools`).
//!
//! The index is built once from `(server, definition)` pairs, where a definition is an MCP
//! tool as `tools/list` returns it, and is immutable afterwards: a new tool list means a new
//! index, so that a search never sees half an update and needs no lock.
//!
//! # Ranking
//!
//! BM25F (BM25 over several fields, each with its own weight and length normalization) over
//! six fields of each tool: the name split at `_ - .` and camelCase, the title, the
//! description, the parameter names, the parameter descriptions, and the server name. A name
//! says most about what a tool does and a parameter description least, so the weights fall in
//! that order ([`FIELDS`]). Terms go through a light stemmer and a stop-word list
//! ([`text`]), and each query term also matches a small table of generic synonyms
//! ([`synonyms`]) at a lower weight, taking the best of the word and its synonyms per tool so
//! that a term never counts twice.
//!
//! # Why no crate
//!
//! On crates.io, `tantivy` is a complete search engine (segments, a query parser, an mmap
//! directory, many dependencies): minutes of build time on this project's 2-core machines for
//! an index of a few thousand short documents that lives in memory. `bm25` (and its fork
//! `bm-25`) is small, but scores one text field per document, so field weights (the part that
//! matters for tool names) would have to be faked by repeating text, and its default
//! tokenizer brings `rust-stemmers`, `stop-words`, `unicode-segmentation`, `deunicode` and a
//! cache crate, none of which split identifiers. `probly-search` has fields but an API built
//! around borrowed documents and callbacks. BM25F itself is a page of arithmetic, so it is
//! written here, on `std` and `serde_json` only, and this module depends on nothing else in
//! the gateway.
//!
//! # Denied tools
//!
//! [`ToolIndex::search`] takes a filter, called once per tool before any scoring. Tools it
//! rejects are not only left out of the hits: the corpus statistics (the number of tools,
//! document frequencies, average field lengths) are computed over the admitted tools alone.
//! So a denied tool cannot change any score or any order, and the scores reveal nothing about
//! what an agent may not see.
//!
//! # Totality
//!
//! Every input is accepted: an empty or stop-word-only query gives no hits, a huge query is
//! read up to [`MAX_QUERY_TERMS`] distinct terms, words are cut at 64 bytes, and any Unicode
//! is split at non-alphanumeric characters. Definitions that lack a string `name` are skipped
//! (their position is simply never returned).

mod synonyms;
#[cfg(feature = "testkit")]
pub mod testkit;
mod text;

use std::collections::HashMap;

use serde_json::Value;

/// The distinct terms of a query that are used; the rest are ignored. A real question has a
/// dozen; this bounds the work of a hostile one (each term costs a posting-list walk).
pub const MAX_QUERY_TERMS: usize = 128;

/// How deep a parameter schema is walked (`properties`, `items`, `anyOf`...): deep enough for
/// real tools (an array of objects of fields), bounded for hostile ones.
const MAX_SCHEMA_DEPTH: usize = 6;

/// BM25's term-frequency saturation.
const K1: f64 = 1.2;

/// A field of a tool's text.
#[derive(Clone, Copy)]
struct Field {
    /// How much a match in this field counts.
    weight: f64,
    /// BM25's length normalization for this field (0: none, 1: full).
    b: f64,
}

const NAME: usize = 0;
const TITLE: usize = 1;
const DESCRIPTION: usize = 2;
const PARAM_NAMES: usize = 3;
const PARAM_DESCRIPTIONS: usize = 4;
const SERVER: usize = 5;
const N_FIELDS: usize = 6;

/// The field weights, in the order of the indices above. Names are short and precise, so a
/// match there counts most and their length matters little; descriptions and parameter texts
/// are long and wordy, so they count less and are normalized by length.
const FIELDS: [Field; N_FIELDS] = [
    Field { weight: 3.0, b: 0.3 },  // name
    Field { weight: 2.0, b: 0.3 },  // title
    Field { weight: 1.0, b: 0.75 }, // description
    Field { weight: 0.8, b: 0.5 },  // parameter names
    Field { weight: 0.4, b: 0.75 }, // parameter descriptions
    Field { weight: 1.5, b: 0.0 },  // server name
];

/// One indexed tool.
#[derive(Debug)]
struct Entry {
    server: String,
    tool: String,
    /// Where the definition came in the input of [`ToolIndex::build`].
    position: usize,
    /// Terms per field.
    lens: [u32; N_FIELDS],
}

/// One tool's occurrences of a term, per field.
#[derive(Debug, Clone, Copy)]
struct Posting {
    entry: u32,
    tf: [u16; N_FIELDS],
}

/// An immutable search index over tool definitions.
#[derive(Debug)]
pub struct ToolIndex {
    entries: Vec<Entry>,
    postings: HashMap<String, Vec<Posting>>,
    synonyms: HashMap<String, Vec<String>>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit<'a> {
    /// The server the tool belongs to, as given to [`ToolIndex::build`].
    pub server: &'a str,
    /// The tool's name.
    pub tool: &'a str,
    /// The relevance (higher is better; only comparable within one search).
    pub score: f64,
    /// The index of the definition in the input of [`ToolIndex::build`], to find the full
    /// definition without a copy of it in the index.
    pub position: usize,
}

impl ToolIndex {
    /// Builds the index from `(server, definition)` pairs, in the order the caller wants ties
    /// broken (the first pair wins a tie).
    pub fn build<'a, I>(tools: I) -> ToolIndex
    where
        I: IntoIterator<Item = (&'a str, &'a Value)>,
    {
        let mut index = ToolIndex { entries: Vec::new(), postings: HashMap::new(), synonyms: synonyms::table() };
        for (position, (server, definition)) in tools.into_iter().enumerate() {
            index.add(position, server, definition);
        }
        index
    }

    fn add(&mut self, position: usize, server: &str, definition: &Value) {
        let Some(tool) = definition.get("name").and_then(Value::as_str) else {
            return;
        };
        let Ok(id) = u32::try_from(self.entries.len()) else {
            return;
        };
        let mut fields: [Vec<String>; N_FIELDS] = Default::default();
        let mut push = |field: usize, s: &str| {
            if let Some(bucket) = fields.get_mut(field) {
                text::terms(s, |t| bucket.push(t));
            }
        };
        push(NAME, tool);
        let title = definition
            .get("title")
            .and_then(Value::as_str)
            .or_else(|| definition.get("annotations").and_then(|a| a.get("title")).and_then(Value::as_str));
        if let Some(title) = title {
            push(TITLE, title);
        }
        if let Some(description) = definition.get("description").and_then(Value::as_str) {
            push(DESCRIPTION, description);
        }
        if let Some(schema) = definition.get("inputSchema") {
            walk_schema(schema, 0, &mut push);
        }
        push(SERVER, server);

        let mut lens = [0u32; N_FIELDS];
        let mut tfs: HashMap<String, [u16; N_FIELDS]> = HashMap::new();
        for (field, terms) in fields.into_iter().enumerate() {
            if let Some(len) = lens.get_mut(field) {
                *len = u32::try_from(terms.len()).unwrap_or(u32::MAX);
            }
            for term in terms {
                let tf = tfs.entry(term).or_insert([0; N_FIELDS]);
                if let Some(n) = tf.get_mut(field) {
                    *n = n.saturating_add(1);
                }
            }
        }
        for (term, tf) in tfs {
            self.postings.entry(term).or_default().push(Posting { entry: id, tf });
        }
        self.entries.push(Entry { server: server.to_owned(), tool: tool.to_owned(), position, lens });
    }

    /// The number of indexed tools.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no tool is indexed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The best `limit` tools for `query` among those that `filter(server, tool)` admits, best
    /// first, ties in build order. Tools that match no query term are never returned, so the
    /// result may be shorter than `limit` (empty for an empty query).
    ///
    /// The filter is called exactly once per indexed tool. Rejected tools take no part in the
    /// statistics either (see the module documentation), so the scores of the admitted tools
    /// are those of an index built from them alone.
    pub fn search<F>(&self, query: &str, limit: usize, filter: F) -> Vec<Hit<'_>>
    where
        F: Fn(&str, &str) -> bool,
    {
        let admitted: Vec<bool> = self.entries.iter().map(|e| filter(&e.server, &e.tool)).collect();
        if limit == 0 {
            return Vec::new();
        }
        let n = admitted.iter().filter(|a| **a).count();
        if n == 0 {
            return Vec::new();
        }
        let mut avg = [0f64; N_FIELDS];
        for (entry, _) in self.entries.iter().zip(&admitted).filter(|(_, a)| **a) {
            for (sum, len) in avg.iter_mut().zip(entry.lens) {
                *sum += f64::from(len);
            }
        }
        for sum in &mut avg {
            *sum = (*sum / n as f64).max(1.0);
        }

        let mut query_terms: Vec<String> = Vec::new();
        text::terms(query, |t| {
            if query_terms.len() < MAX_QUERY_TERMS && !query_terms.contains(&t) {
                query_terms.push(t);
            }
        });

        let mut total = vec![0f64; self.entries.len()];
        let mut best = vec![0f64; self.entries.len()];
        let mut touched: Vec<usize> = Vec::new();
        for term in &query_terms {
            let expansions = std::iter::once((term.as_str(), 1.0))
                .chain(self.synonyms.get(term).into_iter().flatten().map(|s| (s.as_str(), synonyms::SYNONYM_WEIGHT)));
            for (word, weight) in expansions {
                let Some(postings) = self.postings.get(word) else { continue };
                let df = postings.iter().filter(|p| admitted.get(p.entry as usize).copied().unwrap_or(false)).count();
                if df == 0 {
                    continue;
                }
                let idf = (1.0 + (n as f64 - df as f64 + 0.5) / (df as f64 + 0.5)).ln();
                for p in postings {
                    let i = p.entry as usize;
                    if !admitted.get(i).copied().unwrap_or(false) {
                        continue;
                    }
                    let Some(entry) = self.entries.get(i) else { continue };
                    let mut tf = 0.0;
                    for f in 0..N_FIELDS {
                        let (Some(field), Some(&count), Some(&len), Some(&avg_len)) =
                            (FIELDS.get(f), p.tf.get(f), entry.lens.get(f), avg.get(f))
                        else {
                            continue;
                        };
                        if count > 0 {
                            let norm = 1.0 - field.b + field.b * f64::from(len) / avg_len;
                            tf += field.weight * f64::from(count) / norm;
                        }
                    }
                    let score = weight * idf * tf / (K1 + tf);
                    if let Some(b) = best.get_mut(i) {
                        if *b == 0.0 {
                            touched.push(i);
                        }
                        if score > *b {
                            *b = score;
                        }
                    }
                }
            }
            for i in touched.drain(..) {
                if let (Some(t), Some(b)) = (total.get_mut(i), best.get_mut(i)) {
                    *t += *b;
                    *b = 0.0;
                }
            }
        }

        let mut ranked: Vec<(usize, f64)> = total.into_iter().enumerate().filter(|(_, s)| *s > 0.0).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
            .into_iter()
            .take(limit)
            .filter_map(|(i, score)| {
                self.entries.get(i).map(|e| Hit { server: &e.server, tool: &e.tool, score, position: e.position })
            })
            .collect()
    }
}

/// Feeds the parameter names and descriptions of a JSON Schema to `push`, through nested
/// objects, arrays and combinators, down to [`MAX_SCHEMA_DEPTH`].
fn walk_schema(schema: &Value, depth: usize, push: &mut impl FnMut(usize, &str)) {
    if depth > MAX_SCHEMA_DEPTH {
        return;
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            push(PARAM_NAMES, name);
            if let Some(description) = property.get("description").and_then(Value::as_str) {
                push(PARAM_DESCRIPTIONS, description);
            }
            walk_schema(property, depth + 1, push);
        }
    }
    if let Some(items) = schema.get("items") {
        walk_schema(items, depth + 1, push);
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(alternatives) = schema.get(key).and_then(Value::as_array) {
            for alternative in alternatives {
                walk_schema(alternative, depth + 1, push);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn catalogue() -> Vec<(&'static str, Value)> {
        vec![
            (
                "git",
                json!({"name": "git_log", "description": "Shows the commit logs",
                       "inputSchema": {"type": "object", "properties": {"max_count": {"type": "integer", "description": "Maximum number of commits to show"}}}}),
            ),
            (
                "git",
                json!({"name": "git_commit", "description": "Records changes to the repository",
                       "inputSchema": {"properties": {"message": {"description": "Commit message"}}}}),
            ),
            (
                "fetch",
                json!({"name": "fetch", "description": "Fetches a URL from the internet and extracts its contents as markdown.",
                       "inputSchema": {"properties": {"url": {"description": "URL to fetch"}}}}),
            ),
            (
                "filesystem",
                json!({"name": "read_text_file", "title": "Read Text File", "description": "Read the complete contents of a file as text."}),
            ),
            ("filesystem", json!({"name": "listDirectoryWithSizes", "description": "List a directory with sizes."})),
            (
                "memory",
                json!({"name": "delete_entities", "description": "Delete multiple entities from the knowledge graph"}),
            ),
            ("broken", json!({"description": "no name"})),
            ("broken", json!(42)),
        ]
    }

    fn index(tools: &[(&'static str, Value)]) -> ToolIndex {
        ToolIndex::build(tools.iter().map(|(s, d)| (*s, d)))
    }

    fn top(index: &ToolIndex, q: &str) -> Option<String> {
        index.search(q, 1, |_, _| true).first().map(|h| format!("{}/{}", h.server, h.tool))
    }

    #[test]
    fn finds_by_name_description_synonym_and_camel_case() {
        let tools = catalogue();
        let index = index(&tools);
        assert_eq!(index.len(), 6);
        assert_eq!(top(&index, "show me the last commits").as_deref(), Some("git/git_log"));
        assert_eq!(top(&index, "download a web page").as_deref(), Some("fetch/fetch"));
        assert_eq!(top(&index, "remove entity from memory").as_deref(), Some("memory/delete_entities"));
        assert_eq!(top(&index, "directory sizes").as_deref(), Some("filesystem/listDirectoryWithSizes"));
        assert_eq!(top(&index, "read a file").as_deref(), Some("filesystem/read_text_file"));
    }

    #[test]
    fn positions_point_into_the_input() {
        let tools = catalogue();
        let index = index(&tools);
        for hit in index.search("file directory commit fetch entities", 100, |_, _| true) {
            assert_eq!(tools[hit.position].1["name"], hit.tool);
            assert_eq!(tools[hit.position].0, hit.server);
        }
    }

    #[test]
    fn denied_tools_never_appear_nor_change_scores() {
        let tools = catalogue();
        let full = index(&tools);
        let allowed = |s: &str, _: &str| s != "git";
        let filtered = full.search("commit message fetch url", 10, allowed);
        assert!(filtered.iter().all(|h| h.server != "git"));
        let without: Vec<(&'static str, Value)> = tools.iter().filter(|(s, _)| *s != "git").cloned().collect();
        let alone = index(&without);
        let expected = alone.search("commit message fetch url", 10, |_, _| true);
        let strip = |hits: Vec<Hit<'_>>| hits.into_iter().map(|h| (h.tool.to_owned(), h.score)).collect::<Vec<_>>();
        assert_eq!(strip(filtered), strip(expected));
        assert!(full.search("commit", 10, |_, _| false).is_empty());
    }

    #[test]
    fn odd_queries_are_total() {
        let tools = catalogue();
        let index = index(&tools);
        assert!(index.search("", 5, |_, _| true).is_empty());
        assert!(index.search("   \t\n", 5, |_, _| true).is_empty());
        assert!(index.search("the of and", 5, |_, _| true).is_empty());
        assert!(index.search("commit", 0, |_, _| true).is_empty());
        assert!(index.search("commit", usize::MAX, |_, _| true).len() <= index.len());
        for q in ["\u{0}\u{feff}", "日本語 ファイル", "🦀 file 🦀", "İ ß ǅ Σ", "a\u{301}\u{301}\u{301}", "\u{10ffff}"]
        {
            let _ = index.search(q, 5, |_, _| true);
        }
        let huge: String = (0..200_000).map(|i| format!("w{i} ")).collect();
        assert!(huge.len() > 1_000_000);
        let _ = index.search(&huge, 5, |_, _| true);
        let one_word = "file".repeat(300_000);
        let _ = index.search(&one_word, 5, |_, _| true);
        let mixed = format!("{} read file", "x ".repeat(600_000));
        assert_eq!(index.search(&mixed, 1, |_, _| true)[0].tool, "read_text_file");
    }

    #[test]
    fn empty_index_and_odd_definitions() {
        let empty = ToolIndex::build(std::iter::empty());
        assert!(empty.is_empty());
        assert!(empty.search("anything", 5, |_, _| true).is_empty());
        let deep = (0..100).fold(json!({"type": "string"}), |inner, _| json!({"properties": {"p": inner}}));
        let odd = [
            json!({"name": "", "description": ""}),
            json!({"name": "x", "inputSchema": {"properties": [1, 2]}, "title": 3}),
            json!({"name": "deep", "inputSchema": deep}),
        ];
        let index = ToolIndex::build(odd.iter().map(|d| ("s", d)));
        assert_eq!(index.len(), 3);
        let _ = index.search("p x deep", 5, |_, _| true);
    }
}
