//! Editing the top level of a raw JSON object: reading its keys, adding, replacing and removing
//! members, while every other member keeps its exact bytes.
//!
//! This is how a forwarded result is shaped for its caller's protocol version (`resultType`
//! added or taken away) and how a tool definition gets a new name, without a typed model that
//! would drop what it does not know.

use std::borrow::Cow;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// The members of a JSON object, in order, values raw.
#[derive(Debug, Default)]
pub struct Members<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    out.push((key, value));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'a> Members<'a> {
    /// The members of `raw`, which must be an object.
    pub fn of(raw: &'a RawValue) -> Result<Self, serde_json::Error> {
        serde_json::from_str(raw.get())
    }

    /// The members of the object in `text`.
    pub fn parse(text: &'a str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The value of `key`, if present (the first one, should a peer repeat a key).
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// Whether `key` is present.
    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }
}

/// An object being rewritten: the members of one object with some replaced, added or removed.
pub struct Rewrite<'a> {
    members: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Rewrite<'a> {
    /// Starts from `members`.
    pub fn new(members: &Members<'a>) -> Self {
        Rewrite { members: members.0.iter().map(|(k, v)| (k.clone(), Cow::Borrowed(v.get()))).collect() }
    }

    /// Sets `key` to the raw JSON `value`: in place when present, else at the end.
    pub fn set(&mut self, key: &'a str, value: impl Into<Cow<'a, str>>) -> &mut Self {
        let value = value.into();
        match self.members.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.members.push((Cow::Borrowed(key), value)),
        }
        self
    }

    /// Sets `key` at the start when absent; leaves it when present.
    pub fn set_first_if_absent(&mut self, key: &'a str, value: &'a str) -> &mut Self {
        if !self.members.iter().any(|(k, _)| k == key) {
            self.members.insert(0, (Cow::Borrowed(key), Cow::Borrowed(value)));
        }
        self
    }

    /// Removes `key`, if present.
    pub fn remove(&mut self, key: &str) -> &mut Self {
        self.members.retain(|(k, _)| k != key);
        self
    }

    /// The object's text.
    pub fn finish(&self) -> String {
        let len: usize = self.members.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
        let mut out = String::with_capacity(len + 2);
        out.push('{');
        for (i, (k, v)) in self.members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&super::build::json_string(k));
            out.push(':');
            out.push_str(v);
        }
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_every_other_byte() {
        let text = r#"{"content":[{"type":"text","text":"x","_meta":{"v":1}}],"x-vendor":{"n":1.50},"isError":false}"#;
        let m = Members::parse(text).unwrap();
        assert_eq!(m.get("x-vendor").unwrap().get(), r#"{"n":1.50}"#);
        let out = Rewrite::new(&m).set_first_if_absent("resultType", r#""complete""#).remove("isError").finish();
        assert_eq!(
            out,
            r#"{"resultType":"complete","content":[{"type":"text","text":"x","_meta":{"v":1}}],"x-vendor":{"n":1.50}}"#
        );
        let out = Rewrite::new(&m).set("isError", "true").set("name", r#""n""#).finish();
        assert!(out.ends_with(r#""isError":true,"name":"n"}"#), "{out}");
        assert!(Members::parse("[1]").is_err());
        let escaped = Members::parse(r#"{"a\"b":1}"#).unwrap();
        assert_eq!(Rewrite::new(&escaped).finish(), r#"{"a\"b":1}"#);
    }
}
