//! `${VAR}` and `${VAR:-default}` expansion in configuration strings.

/// A variable that is not set and has no default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingVar {
    /// The variable's name.
    pub name: String,
}

/// Expands every `${NAME}` and `${NAME:-default}` in `text`, reading variables through
/// `lookup`. A `$` not followed by `{`, or a `${` without a closing `}`, is kept as written.
/// An empty variable counts as set for `${NAME}` and as unset for `${NAME:-default}`, as in
/// the shell.
pub fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, MissingVar> {
    expand_noting(text, lookup, &mut |_, _| {})
}

/// [`expand`], calling `noted(name, value)` for each value taken from a variable (defaults
/// are written in the file and are not reported), so the caller can keep those values out of
/// what it shows.
pub fn expand_noting(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    noted: &mut dyn FnMut(&str, &str),
) -> Result<String, MissingVar> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let body = &after[..end];
        let (name, value) = match body.split_once(":-") {
            Some((name, default)) => (name, lookup(name).filter(|v| !v.is_empty()).ok_or(default)),
            None => (body, Ok(lookup(body).ok_or_else(|| MissingVar { name: body.to_owned() })?)),
        };
        match value {
            Ok(value) => {
                noted(name, &value);
                out.push_str(&value);
            }
            Err(default) => out.push_str(default),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Reads variables from the process environment.
pub fn from_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/me".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands() {
        assert_eq!(expand("${HOME}/x", &vars).unwrap(), "/home/me/x");
        assert_eq!(expand("a${NOPE:-d}b", &vars).unwrap(), "adb");
        assert_eq!(expand("${EMPTY:-d}", &vars).unwrap(), "d");
        assert_eq!(expand("${EMPTY}", &vars).unwrap(), "");
        assert_eq!(expand("$HOME ${HOME", &vars).unwrap(), "$HOME ${HOME");
        assert_eq!(expand("${HOME}${HOME}", &vars).unwrap(), "/home/me/home/me");
        assert_eq!(expand("Bearer ${NOPE}", &vars).unwrap_err(), MissingVar { name: "NOPE".into() });
        assert_eq!(expand("é${HOME}é", &vars).unwrap(), "é/home/meé");
    }

    #[test]
    fn notes_values_from_variables_only() {
        let mut noted = Vec::new();
        let text = expand_noting("${HOME}:${NOPE:-d}:${EMPTY:-e}", &vars, &mut |n, v| noted.push(format!("{n}={v}")));
        assert_eq!(text.unwrap(), "/home/me:d:e");
        assert_eq!(noted, ["HOME=/home/me"]);
    }
}
