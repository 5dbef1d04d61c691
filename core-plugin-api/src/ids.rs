//! Plugin and module id rules (spec §2.2).

use crate::Error;

/// How an id matched Backstage's patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdStyle {
    /// `^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$`, case-insensitive: letters and digits joined by `-`.
    Preferred,
    /// Also allows `_` as a joiner; accepted with a deprecation warning.
    Legacy,
}

/// Checks an id against the two patterns (case-insensitive), without regex.
fn style(id: &str) -> Option<IdStyle> {
    let bytes = id.as_bytes();
    if !bytes.first().is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    let mut legacy = false;
    let mut previous_joiner = false;
    for &b in &bytes[1..] {
        match b {
            b'-' | b'_' => {
                if previous_joiner {
                    return None;
                }
                legacy |= b == b'_';
                previous_joiner = true;
            }
            b if b.is_ascii_alphanumeric() => previous_joiner = false,
            _ => return None,
        }
    }
    if previous_joiner {
        return None;
    }
    Some(if legacy {
        IdStyle::Legacy
    } else {
        IdStyle::Preferred
    })
}

const PATTERN: &str = "/^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/i";

/// Validates a plugin id.
///
/// # Errors
///
/// [`Error::InvalidPluginId`] with Backstage's message when the id matches neither pattern.
pub fn check_plugin_id(id: &str) -> Result<IdStyle, Error> {
    style(id).ok_or_else(|| Error::InvalidPluginId {
        id: id.to_owned(),
        pattern: PATTERN,
    })
}

/// Validates a module id (the plugin id of a module is not checked, as in Backstage).
///
/// # Errors
///
/// [`Error::InvalidModuleId`] with Backstage's message when the id matches neither pattern.
pub fn check_module_id(plugin_id: &str, module_id: &str) -> Result<IdStyle, Error> {
    style(module_id).ok_or_else(|| Error::InvalidModuleId {
        plugin_id: plugin_id.to_owned(),
        module_id: module_id.to_owned(),
        pattern: PATTERN,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_backstage_patterns() {
        for ok in ["catalog", "user-settings", "A1", "a-1-b", "Catalog-X"] {
            assert_eq!(check_plugin_id(ok).unwrap(), IdStyle::Preferred, "{ok}");
        }
        for legacy in ["a_b", "a-b_c"] {
            assert_eq!(
                check_plugin_id(legacy).unwrap(),
                IdStyle::Legacy,
                "{legacy}"
            );
        }
        for bad in [
            "", "1bad", "-a", "a-", "a--b", "a b", "a.b", "é", "a__b", "a-_b",
        ] {
            assert!(check_plugin_id(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_plugin_id("1bad").unwrap_err().to_string(),
            "Invalid pluginId '1bad', must match the pattern /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/i (letters, digits, and dashes only, starting with a letter)"
        );
        assert_eq!(
            check_module_id("p", "x y").unwrap_err().to_string(),
            "Invalid moduleId 'x y' for plugin 'p', must match the pattern /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/i (letters, digits, and dashes only, starting with a letter)"
        );
    }
}
