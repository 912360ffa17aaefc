//! The tree the positioned JSON parser builds: every value remembers where it starts.

/// A JSON value with the byte offset at which it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// Byte offset of the value's first character.
    pub offset: usize,
    /// The value itself.
    pub kind: NodeKind,
}

/// The shape of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeKind {
    Null,
    Bool(bool),
    /// The number's source text, kept verbatim.
    Number(String),
    String(String),
    Array(Vec<Node>),
    /// Members in source order; keys are unique (the parser refuses duplicates).
    Object(Vec<Member>),
}

/// One `"key": value` pair of an object, in source order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member {
    pub key: String,
    /// Byte offset of the key's opening quote.
    pub key_offset: usize,
    pub value: Node,
}

impl NodeKind {
    /// The JSON type name, for "expected X, found Y" messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Number(_) => "a number",
            NodeKind::String(_) => "a string",
            NodeKind::Array(_) => "an array",
            NodeKind::Object(_) => "an object",
        }
    }
}
