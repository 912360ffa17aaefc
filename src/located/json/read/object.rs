//! [`Object`] and [`Field`]: the members of a JSON object, and the rules on which keys it
//! holds.

use super::{Mistake, Value};
use crate::located::Severity;
use crate::located::Span;
use crate::located::json::{Member, PathSegment};

/// An object of the document: its fields in source order, by name, and checks on its keys.
#[derive(Clone)]
pub(crate) struct Object<'a> {
    value: Value<'a>,
    members: &'a [Member],
}

/// One `"key": value` member of an [`Object`].
#[derive(Clone)]
pub(crate) struct Field<'a> {
    key: &'a str,
    key_offset: usize,
    value: Value<'a>,
}

impl<'a> Object<'a> {
    pub(super) fn new(value: Value<'a>, members: &'a [Member]) -> Self {
        Object { value, members }
    }

    /// Every field, in source order (keys are unique; the parser refuses duplicates).
    pub(crate) fn fields(&self) -> impl Iterator<Item = Field<'a>> + '_ {
        self.members.iter().map(|m| self.field_of(m))
    }

    fn field_of(&self, m: &'a Member) -> Field<'a> {
        Field {
            key: &m.key,
            key_offset: m.key_offset,
            value: self.value.child(&m.value, PathSegment::Key(m.key.clone())),
        }
    }

    /// The value of an optional field.
    pub(crate) fn get(&self, key: &str) -> Option<Value<'a>> {
        self.members.iter().find(|m| m.key == key).map(|m| self.field_of(m).value)
    }

    /// The value of a field the object must hold; its absence is reported at the object.
    pub(crate) fn required(&self, key: &str) -> Option<Value<'a>> {
        let found = self.get(key);
        if found.is_none() {
            self.value.mistake(Mistake::MissingField { field: key.to_owned() });
        }
        found
    }

    /// Reports, as errors, every field whose key is not in `allowed`, with a "did you mean".
    pub(crate) fn deny_unknown(&self, allowed: &[&str]) {
        self.unknown(allowed, Severity::Error);
    }

    /// Warns about every field whose key is not in `allowed`, which the front end skips: for
    /// files shared with other tools, which may add keys of their own.
    pub(crate) fn warn_unknown(&self, allowed: &[&str]) {
        self.unknown(allowed, Severity::Warning);
    }

    fn unknown(&self, allowed: &[&str], severity: Severity) {
        for f in self.fields().filter(|f| !allowed.contains(&f.key)) {
            let (key, allowed) = (f.key.to_owned(), allowed.iter().map(|a| (*a).to_owned()).collect());
            let mistake = match severity {
                Severity::Error => Mistake::UnknownField { key, allowed },
                Severity::Warning => Mistake::IgnoredField { key, allowed },
            };
            f.value.mistake_at(severity, mistake, f.key_offset, f.value.path_segments());
        }
    }
}

impl<'a> Field<'a> {
    /// The key, decoded.
    pub(crate) fn key(&self) -> &'a str {
        self.key
    }

    /// Where the key's opening quote is.
    pub(crate) fn key_span(&self) -> Span {
        self.value.span_of(self.key_offset)
    }

    /// The value; its path ends with this key.
    pub(crate) fn value(&self) -> &Value<'a> {
        &self.value
    }

    /// Reports an error about the key itself (an empty server name).
    pub(crate) fn key_error(&self, message: impl Into<String>) {
        self.value.report_at(Severity::Error, message.into(), None, self.key_offset, self.value.path_segments());
    }
}
