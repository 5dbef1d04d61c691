//! Start-up results, the `backend.startup` failure policy and `BackendStartupError`
//! (spec §2.9).

use std::collections::HashMap;
use std::fmt;
use std::time::SystemTime;

use backstage_backend_common::config::ConfigReader;

/// Whether start-up succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartupOutcome {
    /// No disallowed failure.
    Success,
    /// At least one failure not permitted by `backend.startup`.
    Failure,
}

/// A plugin or module failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartupFailure {
    /// The error's name (`Error`, `NotFoundError`, …).
    pub name: String,
    /// The error's message.
    pub message: String,
    /// Whether `backend.startup` permits it (`continue`).
    pub allowed: bool,
}

/// One module's start-up.
#[derive(Clone, Debug)]
pub struct ModuleStartupResult {
    /// The module id.
    pub module_id: String,
    /// When it finished.
    pub result_at: SystemTime,
    /// Its failure, if any.
    pub failure: Option<StartupFailure>,
}

/// One plugin's start-up, with its modules in completion order.
#[derive(Clone, Debug)]
pub struct PluginStartupResult {
    /// The plugin id.
    pub plugin_id: String,
    /// When it finished.
    pub result_at: SystemTime,
    /// Its failure, if any.
    pub failure: Option<StartupFailure>,
    /// Its modules.
    pub modules: Vec<ModuleStartupResult>,
}

/// What `start()` reports: every plugin that finished, in completion order.
#[derive(Clone, Debug)]
pub struct StartupResult {
    /// When start-up began.
    pub begin_at: SystemTime,
    /// When the result was final.
    pub result_at: SystemTime,
    /// Success unless a failure was not permitted.
    pub outcome: StartupOutcome,
    /// The plugins.
    pub plugins: Vec<PluginStartupResult>,
}

impl StartupResult {
    fn disallowed(&self) -> impl Iterator<Item = String> + '_ {
        self.plugins.iter().flat_map(|plugin| {
            let own = plugin.failure.as_ref().filter(|f| !f.allowed).map(|f| {
                format!(
                    "Plugin '{}' startup failed; caused by {}: {}",
                    plugin.plugin_id, f.name, f.message
                )
            });
            let modules = plugin.modules.iter().filter_map(move |module| {
                module.failure.as_ref().filter(|f| !f.allowed).map(|f| {
                    format!(
                        "Module '{}' for plugin '{}' startup failed; caused by {}: {}",
                        module.module_id, plugin.plugin_id, f.name, f.message
                    )
                })
            });
            own.into_iter().chain(modules)
        })
    }
}

/// Plugins or modules failed and `backend.startup` does not permit it. Carries the result.
#[derive(Clone, Debug)]
pub struct BackendStartupError {
    result: StartupResult,
}

impl BackendStartupError {
    pub(crate) fn new(result: StartupResult) -> Self {
        Self { result }
    }

    /// The start-up result.
    pub fn result(&self) -> &StartupResult {
        &self.result
    }
}

impl fmt::Display for BackendStartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Backend startup failed due to the following errors:")?;
        for line in self.result.disallowed() {
            write!(f, "\n  {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BackendStartupError {}

/// `backend.startup`: which failures are permitted. Only the literal `continue` permits.
#[derive(Clone, Debug, Default)]
pub(crate) struct StartupPolicy {
    plugin_default: bool,
    module_default: bool,
    plugins: HashMap<String, PluginPolicy>,
}

#[derive(Clone, Debug, Default)]
struct PluginPolicy {
    plugin: Option<bool>,
    modules: HashMap<String, bool>,
}

fn allows(value: Option<String>) -> Option<bool> {
    value.map(|v| v == "continue")
}

impl StartupPolicy {
    pub(crate) fn from_config(
        config: &ConfigReader,
    ) -> Result<Self, backstage_backend_common::Error> {
        let mut policy = StartupPolicy {
            plugin_default: allows(
                config.optional_string("backend.startup.default.onPluginBootFailure")?,
            )
            .unwrap_or(false),
            module_default: allows(
                config.optional_string("backend.startup.default.onPluginModuleBootFailure")?,
            )
            .unwrap_or(false),
            plugins: HashMap::new(),
        };
        if let Some(plugins) = config.optional_config("backend.startup.plugins")? {
            for plugin_id in plugins.keys() {
                let Some(plugin) = plugins.optional_config(&plugin_id)? else {
                    continue;
                };
                let mut entry = PluginPolicy {
                    plugin: allows(plugin.optional_string("onPluginBootFailure")?),
                    modules: HashMap::new(),
                };
                if let Some(modules) = plugin.optional_config("modules")? {
                    for module_id in modules.keys() {
                        if let Some(module) = modules.optional_config(&module_id)?
                            && let Some(allowed) =
                                allows(module.optional_string("onPluginModuleBootFailure")?)
                        {
                            entry.modules.insert(module_id, allowed);
                        }
                    }
                }
                policy.plugins.insert(plugin_id, entry);
            }
        }
        Ok(policy)
    }

    pub(crate) fn plugin_allowed(&self, plugin_id: &str) -> bool {
        self.plugins
            .get(plugin_id)
            .and_then(|p| p.plugin)
            .unwrap_or(self.plugin_default)
    }

    pub(crate) fn module_allowed(&self, plugin_id: &str, module_id: &str) -> bool {
        self.plugins
            .get(plugin_id)
            .and_then(|p| p.modules.get(module_id).copied())
            .unwrap_or(self.module_default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_continue_permits_and_specific_entries_win() {
        let config = ConfigReader::from_value(json!({"backend": {"startup": {
            "default": { "onPluginBootFailure": "continue", "onPluginModuleBootFailure": "nope" },
            "plugins": {
                "catalog": { "onPluginBootFailure": "abort",
                             "modules": { "github": { "onPluginModuleBootFailure": "continue" } } },
            },
        }}}));
        let policy = StartupPolicy::from_config(&config).unwrap();
        assert!(policy.plugin_allowed("search"));
        assert!(!policy.plugin_allowed("catalog"));
        assert!(policy.module_allowed("catalog", "github"));
        assert!(!policy.module_allowed("catalog", "gitlab"));
        assert!(!policy.module_allowed("search", "x"));
        let empty = StartupPolicy::from_config(&ConfigReader::from_value(json!({}))).unwrap();
        assert!(!empty.plugin_allowed("a") && !empty.module_allowed("a", "b"));
    }

    #[test]
    fn the_error_lists_only_disallowed_failures() {
        let failure = |allowed| {
            Some(StartupFailure {
                name: "Error".into(),
                message: "boom".into(),
                allowed,
            })
        };
        let result = StartupResult {
            begin_at: SystemTime::UNIX_EPOCH,
            result_at: SystemTime::UNIX_EPOCH,
            outcome: StartupOutcome::Failure,
            plugins: vec![
                PluginStartupResult {
                    plugin_id: "a".into(),
                    result_at: SystemTime::UNIX_EPOCH,
                    failure: failure(false),
                    modules: vec![ModuleStartupResult {
                        module_id: "m".into(),
                        result_at: SystemTime::UNIX_EPOCH,
                        failure: failure(false),
                    }],
                },
                PluginStartupResult {
                    plugin_id: "b".into(),
                    result_at: SystemTime::UNIX_EPOCH,
                    failure: failure(true),
                    modules: vec![],
                },
            ],
        };
        assert_eq!(
            BackendStartupError::new(result).to_string(),
            "Backend startup failed due to the following errors:\n  Plugin 'a' startup failed; caused by Error: boom\n  Module 'm' for plugin 'a' startup failed; caused by Error: boom"
        );
    }
}
