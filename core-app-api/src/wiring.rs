//! The wiring check: every problem in the graph of plugins, modules, extension points and
//! service factories, found before any init runs and reported together.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

use backstage_core_plugin_api::deps::Dependency;
use backstage_core_plugin_api::{Registration, ServiceInfo, ServiceScope};

use crate::registry::{FRAMEWORK_IDS, Registry};

/// What kind of wiring problem was found.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WiringProblemKind {
    /// A plugin or module id does not match Backstage's pattern.
    InvalidId,
    /// A plugin's or module's `register` misbehaved (`registerInit` missing or twice, …).
    Registration,
    /// Two factories for one singleton service.
    DuplicateFactory,
    /// A factory for a service only the backend provides (`core.pluginMetadata`, …).
    FrameworkOverride,
    /// Two plugins with one id.
    DuplicatePlugin,
    /// Two modules with one id for one plugin.
    DuplicateModule,
    /// Two registrations of one extension point id.
    DuplicateExtensionPoint,
    /// A dependency nobody provides.
    MissingDependency,
    /// A root service (or root context, or feature loader) depending on a plugin-scoped one.
    ScopeMismatch,
    /// A module depending on another plugin's extension point.
    IllegalExtensionPoint,
    /// Services depending on each other in a circle.
    CircularDependency,
    /// Modules of one plugin depending on each other's extension points in a circle.
    CircularModules,
}

/// One wiring problem, with a message that says what to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WiringProblem {
    /// The kind.
    pub kind: WiringProblemKind,
    /// The message (Backstage's text where Backstage has one).
    pub message: String,
}

impl WiringProblem {
    pub(crate) fn new(kind: WiringProblemKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for WiringProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Every wiring problem of a backend; returned by `start()` before anything initialised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WiringError {
    problems: Vec<WiringProblem>,
}

impl WiringError {
    pub(crate) fn new(problems: Vec<WiringProblem>) -> Self {
        Self { problems }
    }

    /// The problems, in the order found.
    pub fn problems(&self) -> &[WiringProblem] {
        &self.problems
    }
}

impl fmt::Display for WiringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Backend wiring is invalid ({} problem{}); nothing was started:",
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            for (i, line) in problem.message.lines().enumerate() {
                let indent = if i == 0 { "  " } else { "    " };
                write!(f, "\n{indent}{line}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for WiringError {}

/// The dependency graph's verdict: problems, and per plugin the module start-up waves.
pub(crate) struct WiringReport {
    pub(crate) problems: Vec<WiringProblem>,
    /// Per plugin id: indexes into its module list, in waves that may run concurrently.
    pub(crate) module_waves: HashMap<String, Vec<Vec<usize>>>,
}

fn provided(registry: &Registry, info: &ServiceInfo) -> bool {
    FRAMEWORK_IDS.contains(&info.id) || info.multiton || !registry.factories_for(info).is_empty()
}

/// A service dependency, or the replaced default of one; `None` for extension points.
fn service_dep(dep: &Dependency) -> Option<(ServiceInfo, bool)> {
    match dep {
        Dependency::Service(info) => Some((*info, false)),
        Dependency::Replaced(info) => Some((*info, true)),
        Dependency::ExtensionPoint(_) => None,
    }
}

fn provided_dep(registry: &Registry, info: &ServiceInfo, replaced: bool) -> bool {
    if replaced {
        !registry.replaced_for(info).is_empty()
    } else {
        provided(registry, info)
    }
}

/// The graph node of a service, or of its replaced default.
fn node_name(id: &str, replaced: bool) -> String {
    if replaced {
        format!("{id} (replaced default)")
    } else {
        id.to_owned()
    }
}

fn quote_join<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    ids.into_iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// Finds cycles in a directed graph; one per strongly connected set of nodes, as a path that
/// starts and ends at the same node. Deterministic for a given graph.
fn find_cycles(edges: &HashMap<&str, Vec<&str>>) -> Vec<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Color {
        White,
        Gray,
        Black,
    }
    let mut nodes: Vec<&str> = edges.keys().copied().collect();
    nodes.sort_unstable();
    let mut color: HashMap<&str, Color> = HashMap::new();
    let mut seen_sets: HashSet<BTreeSet<String>> = HashSet::new();
    let mut cycles = Vec::new();
    for &start in &nodes {
        if color.get(start).copied().unwrap_or(Color::White) != Color::White {
            continue;
        }
        // Iterative DFS: (node, next child index).
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        color.insert(start, Color::Gray);
        while let Some((node, child)) = stack.last().copied() {
            let children = edges.get(node).map(Vec::as_slice).unwrap_or_default();
            if let Some(&next) = children.get(child) {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                match color.get(next).copied().unwrap_or(Color::White) {
                    Color::White => {
                        color.insert(next, Color::Gray);
                        stack.push((next, 0));
                    }
                    Color::Gray => {
                        let from = stack.iter().position(|(n, _)| *n == next).unwrap_or(0);
                        let mut cycle: Vec<String> =
                            stack[from..].iter().map(|(n, _)| (*n).to_owned()).collect();
                        let set: BTreeSet<String> = cycle.iter().cloned().collect();
                        if seen_sets.insert(set) {
                            cycle.push(next.to_owned());
                            cycles.push(cycle);
                        }
                    }
                    Color::Black => {}
                }
            } else {
                color.insert(node, Color::Black);
                stack.pop();
            }
        }
    }
    cycles
}

/// A module's label in messages.
fn module_label(r: &Registration) -> String {
    format!(
        "module '{}' for plugin '{}'",
        r.module_id.as_deref().unwrap_or_default(),
        r.plugin_id
    )
}

/// Checks the graph. `plugins` and `modules` are the registrations that will run (modules of
/// absent plugins already dropped); `loader_deps` the dependencies of feature loaders.
pub(crate) fn check(
    registry: &Registry,
    install_order: &[&'static str],
    plugins: &[Registration],
    modules: &[Registration],
) -> WiringReport {
    let mut problems = Vec::new();

    // Extension point ownership.
    let mut owners: HashMap<&str, &str> = HashMap::new();
    let mut providers: HashMap<&str, usize> = HashMap::new();
    for (index, registration) in plugins.iter().chain(modules).enumerate() {
        for ep in &registration.extension_points {
            if owners.contains_key(ep.id) {
                problems.push(WiringProblem::new(
                    WiringProblemKind::DuplicateExtensionPoint,
                    format!("ExtensionPoint with ID '{}' is already registered", ep.id),
                ));
                continue;
            }
            owners.insert(ep.id, &registration.plugin_id);
            if index >= plugins.len() {
                providers.insert(ep.id, index - plugins.len());
            }
        }
    }

    // Direct dependencies of plugins and modules.
    let mut roots: Vec<(ServiceInfo, bool)> = Vec::new();
    for (registration, is_module) in plugins
        .iter()
        .map(|r| (r, false))
        .chain(modules.iter().map(|r| (r, true)))
    {
        let mut missing = Vec::new();
        for dep in &registration.deps {
            match dep {
                Dependency::Service(info) | Dependency::Replaced(info) => {
                    let replaced = matches!(dep, Dependency::Replaced(_));
                    roots.push((*info, replaced));
                    if !provided_dep(registry, info, replaced) {
                        missing.push(dep.display_ref());
                    }
                }
                Dependency::ExtensionPoint(id) => match owners.get(id) {
                    None => missing.push(dep.display_ref()),
                    Some(owner) if *owner != registration.plugin_id => {
                        problems.push(WiringProblem::new(
                            WiringProblemKind::IllegalExtensionPoint,
                            format!(
                                "Illegal dependency: Module '{}' for plugin '{}' attempted to depend on extension point '{id}' for plugin '{owner}'. Extension points can only be used within their plugin's scope.",
                                registration.module_id.as_deref().unwrap_or_default(),
                                registration.plugin_id
                            ),
                        ));
                    }
                    Some(_) if !is_module => {
                        problems.push(WiringProblem::new(
                            WiringProblemKind::IllegalExtensionPoint,
                            format!(
                                "Rejected dependency on extension point {id} from outside of a module (plugin '{}')",
                                registration.plugin_id
                            ),
                        ));
                    }
                    Some(_) => {}
                },
            }
        }
        if !missing.is_empty() {
            let who = if is_module {
                module_label(registration)
            } else {
                format!("plugin '{}'", registration.plugin_id)
            };
            problems.push(WiringProblem::new(
                WiringProblemKind::MissingDependency,
                format!(
                    "Service or extension point dependencies of {who} are missing for the following ref(s): {}",
                    missing.join(", ")
                ),
            ));
        }
    }

    // Eagerly created services are needed even if no one depends on them.
    let installed = registry.installed();
    for id in install_order {
        for factory in installed.get(id).into_iter().flatten() {
            let info = factory.service();
            let eager =
                factory.initialization_mode() == backstage_core_plugin_api::Initialization::Always;
            if eager && (info.scope == ServiceScope::Root || !plugins.is_empty()) {
                roots.push((info, false));
            }
        }
    }

    // Walk the service graph.
    let mut edges: HashMap<String, Vec<String>> = HashMap::new();
    let mut visited: HashSet<(&'static str, bool)> = HashSet::new();
    let mut reported: HashSet<(&'static str, WiringProblemKind)> = HashSet::new();
    while let Some((info, replaced)) = roots.pop() {
        if !visited.insert((info.id, replaced)) || (!replaced && FRAMEWORK_IDS.contains(&info.id)) {
            continue;
        }
        let factories = if replaced {
            registry.replaced_for(&info)
        } else {
            registry.factories_for(&info)
        };
        let node_key = node_name(info.id, replaced);
        for factory in factories {
            let service = factory.service();
            let mut missing = Vec::new();
            let context_deps = factory.root_context_dependencies().unwrap_or_default();
            if service.scope == ServiceScope::Root && factory.root_context_dependencies().is_some()
            {
                problems.push(WiringProblem::new(
                    WiringProblemKind::ScopeMismatch,
                    format!(
                        "Service factory for '{}' has a root context, but the service is root scoped; root contexts are for plugin-scoped services",
                        service.id
                    ),
                ));
            }
            for dep in factory.dependencies().iter().chain(context_deps) {
                let Some((dep_info, dep_replaced)) = service_dep(dep) else {
                    continue;
                };
                let target = node_name(dep_info.id, dep_replaced);
                let node = edges.entry(node_key.clone()).or_default();
                if !node.contains(&target) {
                    node.push(target);
                }
                roots.push((dep_info, dep_replaced));
                if !provided_dep(registry, &dep_info, dep_replaced) {
                    missing.push(format!("'{}'", node_name(dep_info.id, dep_replaced)));
                }
            }
            for dep in factory.dependencies() {
                let Some((dep_info, _)) = service_dep(dep) else {
                    continue;
                };
                if service.scope == ServiceScope::Root
                    && dep_info.scope == ServiceScope::Plugin
                    && reported.insert((service.id, WiringProblemKind::ScopeMismatch))
                {
                    problems.push(WiringProblem::new(
                        WiringProblemKind::ScopeMismatch,
                        format!(
                            "Failed to instantiate 'root' scoped service '{}' because it depends on 'plugin' scoped service '{}'.",
                            service.id, dep_info.id
                        ),
                    ));
                }
            }
            for dep in context_deps {
                let Some((dep_info, _)) = service_dep(dep) else {
                    continue;
                };
                if dep_info.scope == ServiceScope::Plugin {
                    problems.push(WiringProblem::new(
                        WiringProblemKind::ScopeMismatch,
                        format!(
                            "The root context of service '{}' depends on 'plugin' scoped service '{}'; root contexts may only depend on root scoped services",
                            service.id, dep_info.id
                        ),
                    ));
                }
            }
            if !missing.is_empty()
                && reported.insert((service.id, WiringProblemKind::MissingDependency))
            {
                problems.push(WiringProblem::new(
                    WiringProblemKind::MissingDependency,
                    format!(
                        "Failed to instantiate service '{}' because the following dependent services are missing: {}",
                        service.id,
                        missing.join(", ")
                    ),
                ));
            }
        }
    }
    let edges: HashMap<&str, Vec<&str>> = edges
        .iter()
        .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
        .collect();
    let cycles = find_cycles(&edges);
    if !cycles.is_empty() {
        let lines: Vec<String> = cycles
            .iter()
            .map(|c| format!("  {}", quote_join(c.iter().map(String::as_str))))
            .collect();
        problems.push(WiringProblem::new(
            WiringProblemKind::CircularDependency,
            format!("Circular dependencies detected:\n{}", lines.join("\n")),
        ));
    }

    // Module order inside each plugin: a module registering extension point X runs after
    // every module consuming X.
    let mut module_waves = HashMap::new();
    for plugin in plugins {
        let members: Vec<usize> = (0..modules.len())
            .filter(|&i| modules[i].plugin_id == plugin.plugin_id)
            .collect();
        let mut after: HashMap<usize, Vec<usize>> = HashMap::new(); // provider -> consumers
        for &consumer in &members {
            for dep in &modules[consumer].deps {
                if let Dependency::ExtensionPoint(id) = dep
                    && let Some(&provider) = providers.get(id)
                    && provider != consumer
                    && modules[provider].plugin_id == plugin.plugin_id
                {
                    after.entry(provider).or_default().push(consumer);
                }
            }
        }
        let names: HashMap<usize, String> = members
            .iter()
            .map(|&i| (i, modules[i].module_id.clone().unwrap_or_default()))
            .collect();
        let named_edges: HashMap<&str, Vec<&str>> = members
            .iter()
            .map(|i| {
                (
                    names[i].as_str(),
                    after
                        .get(i)
                        .into_iter()
                        .flatten()
                        .map(|c| names[c].as_str())
                        .collect(),
                )
            })
            .collect();
        if let Some(cycle) = find_cycles(&named_edges).into_iter().next() {
            // Report in "consumer -> provider" order, as Backstage does.
            let mut cycle = cycle;
            cycle.reverse();
            problems.push(WiringProblem::new(
                WiringProblemKind::CircularModules,
                format!(
                    "Circular dependency detected for modules of plugin '{}', {}",
                    plugin.plugin_id,
                    quote_join(cycle.iter().map(String::as_str))
                ),
            ));
            continue;
        }
        // Kahn's algorithm in waves.
        let mut remaining: HashSet<usize> = members.iter().copied().collect();
        let mut waves = Vec::new();
        while !remaining.is_empty() {
            let mut wave: Vec<usize> = remaining
                .iter()
                .copied()
                .filter(|&m| {
                    !after
                        .get(&m)
                        .into_iter()
                        .flatten()
                        .any(|c| remaining.contains(c))
                })
                .collect();
            if wave.is_empty() {
                break; // unreachable: cycles were rejected above
            }
            wave.sort_unstable();
            for m in &wave {
                remaining.remove(m);
            }
            waves.push(wave);
        }
        module_waves.insert(plugin.plugin_id.clone(), waves);
    }

    WiringReport {
        problems,
        module_waves,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_are_found_once_per_node_set() {
        let edges: HashMap<&str, Vec<&str>> = [
            ("a", vec!["b"]),
            ("b", vec!["a", "c"]),
            ("c", vec!["c"]),
            ("d", vec!["a"]),
        ]
        .into_iter()
        .collect();
        let cycles = find_cycles(&edges);
        assert_eq!(cycles, vec![vec!["a", "b", "a"], vec!["c", "c"]]);
        let acyclic: HashMap<&str, Vec<&str>> =
            [("a", vec!["b"]), ("b", vec![])].into_iter().collect();
        assert!(find_cycles(&acyclic).is_empty());
    }
}
