//! [`Value`]: a cursor at one value of a located JSON tree, asking it typed questions.

use super::mistake::OneOf;
use super::{Mistake, Object, Reader};
use crate::located::json::{DisplayPath, Node, NodeKind, PathSegment};
use crate::located::{Severity, Span};

/// A value of the document, with its JSON path, reporting into its [`Reader`].
///
/// Every typed accessor returns `None` after reporting why when the value is not what was
/// asked for; the caller skips what it cannot read and goes on, so that one run reports every
/// problem.
#[derive(Clone)]
pub(crate) struct Value<'a> {
    reader: &'a Reader<'a>,
    node: &'a Node,
    /// Added to the node's offsets: where the parsed part starts in the text.
    base: usize,
    path: Vec<PathSegment>,
}

impl<'a> Value<'a> {
    pub(super) fn new(reader: &'a Reader<'a>, node: &'a Node, base: usize, path: Vec<PathSegment>) -> Self {
        Value { reader, node, base, path }
    }

    /// The value one step down, at `segment`.
    pub(super) fn child(&self, node: &'a Node, segment: PathSegment) -> Value<'a> {
        let mut path = self.path.clone();
        path.push(segment);
        Value { reader: self.reader, node, base: self.base, path }
    }

    /// The raw value, for front ends that look before they ask (`null` or a string?).
    pub(crate) fn kind(&self) -> &'a NodeKind {
        &self.node.kind
    }

    /// Where the value starts.
    pub(crate) fn span(&self) -> Span {
        self.reader.index.span(self.base + self.node.offset)
    }

    /// Where a byte offset of the parsed part is.
    pub(super) fn span_of(&self, offset: usize) -> Span {
        self.reader.index.span(self.base + offset)
    }

    /// The JSON path, as `agents.backend.allow.servers[0]`.
    pub(crate) fn path(&self) -> String {
        DisplayPath(&self.path).to_string()
    }

    /// Reports an error about this value that only the front end can see (a bad URL, a
    /// variable that is not set).
    pub(crate) fn error(&self, message: impl Into<String>) {
        self.report_at(Severity::Error, message.into(), None, self.node.offset, &self.path);
    }

    /// Reports a mistake about this value.
    pub(crate) fn mistake(&self, mistake: Mistake) {
        self.mistake_at(Severity::Error, mistake, self.node.offset, &self.path);
    }

    pub(super) fn mistake_at(&self, severity: Severity, mistake: Mistake, offset: usize, path: &[PathSegment]) {
        let hint = mistake.hint();
        self.report_at(severity, mistake.to_string(), hint, offset, path);
    }

    pub(super) fn report_at(
        &self,
        severity: Severity,
        message: String,
        hint: Option<String>,
        offset: usize,
        path: &[PathSegment],
    ) {
        self.reader.report(severity, message, hint, self.base + offset, path);
    }

    pub(super) fn path_segments(&self) -> &[PathSegment] {
        &self.path
    }

    /// Reports that the value is not `expected` (`"a string"`, `"an array of tool names"`).
    pub(crate) fn wrong_type(&self, expected: &str) {
        self.mistake(Mistake::WrongType { expected: expected.to_owned(), found: self.node.kind.type_name() });
    }

    /// The value as an object; `expected` describes the object wanted.
    pub(crate) fn object(&self, expected: &str) -> Option<Object<'a>> {
        match &self.node.kind {
            NodeKind::Object(members) => Some(Object::new(self.clone(), members)),
            _ => {
                self.wrong_type(expected);
                None
            }
        }
    }

    /// The value as an array, each item read by `item`; `expected` describes the array
    /// wanted. Items that `item` cannot read (it has reported why) are left out.
    pub(crate) fn array_of<T>(&self, expected: &str, item: impl FnMut(Value<'a>) -> Option<T>) -> Option<Vec<T>> {
        if !matches!(self.node.kind, NodeKind::Array(_)) {
            self.wrong_type(expected);
            return None;
        }
        Some(self.items().into_iter().filter_map(item).collect())
    }

    /// The items of an array, without reporting anything when the value is not one.
    pub(crate) fn items(&self) -> Vec<Value<'a>> {
        match &self.node.kind {
            NodeKind::Array(items) => {
                items.iter().enumerate().map(|(i, node)| self.child(node, PathSegment::Index(i))).collect()
            }
            _ => Vec::new(),
        }
    }

    /// The value as a string; `expected` describes the string wanted (`"a string"`, `"a
    /// server pattern (a string)"`).
    pub(crate) fn string(&self, expected: &str) -> Option<&'a str> {
        match &self.node.kind {
            NodeKind::String(s) => Some(s),
            _ => {
                self.wrong_type(expected);
                None
            }
        }
    }

    /// The value as a string, without reporting anything when it is not one.
    pub(crate) fn as_str(&self) -> Option<&'a str> {
        match &self.node.kind {
            NodeKind::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a string or `null` (`Some(None)`).
    pub(crate) fn nullable_string(&self) -> Option<Option<&'a str>> {
        match &self.node.kind {
            NodeKind::Null => Some(None),
            _ => self.string("a string or null").map(Some),
        }
    }

    /// The value as `true` or `false`.
    pub(crate) fn bool(&self) -> Option<bool> {
        match self.node.kind {
            NodeKind::Bool(b) => Some(b),
            _ => {
                self.wrong_type("`true` or `false`");
                None
            }
        }
    }

    /// The value as a number that `parse` accepts from its source text; `expected` says
    /// which numbers are (`"a whole number from 1 to 4294967295"`).
    pub(crate) fn number<T>(&self, expected: &str, parse: impl FnOnce(&str) -> Option<T>) -> Option<T> {
        let NodeKind::Number(text) = &self.node.kind else {
            self.wrong_type(expected);
            return None;
        };
        let n = parse(text);
        if n.is_none() {
            self.mistake(Mistake::OutOfRange { expected: expected.to_owned(), found: text.clone() });
        }
        n
    }

    /// The value as one of the strings `allowed`.
    pub(crate) fn one_of<'c>(&self, allowed: &[&'c str]) -> Option<&'c str> {
        let NodeKind::String(s) = &self.node.kind else {
            self.wrong_type(&OneOf(allowed).to_string());
            return None;
        };
        self.check_one_of(s, allowed)
    }

    /// `found`, a string read from this value (perhaps after `${VAR}` expansion), as one of
    /// the strings `allowed`.
    pub(crate) fn check_one_of<'c>(&self, found: &str, allowed: &[&'c str]) -> Option<&'c str> {
        let hit = allowed.iter().find(|a| **a == found).copied();
        if hit.is_none() {
            let allowed = allowed.iter().map(|a| (*a).to_owned()).collect();
            self.mistake(Mistake::NotOneOf { found: found.to_owned(), allowed });
        }
        hit
    }
}
