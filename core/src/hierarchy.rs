//! The levels of a serving runtime (namespace → component → endpoint) as
//! sub-registries, each adding its constant label: [`Registry::namespace`],
//! [`Registry::component`], [`Registry::endpoint`], or [`Levels`] for other
//! label names and prefix. A metric is registered once, at its level, and
//! every ancestor's snapshot (and `/metrics`) holds it with its labels.

use crate::error::Error;
use crate::registry::Registry;

/// The label names of the levels, and the name prefix the namespace level
/// adds. [`Levels::default`] is the Dynamo runtime's: prefix
/// `dynamo_component`, labels `dynamo_namespace`, `dynamo_component`,
/// `dynamo_endpoint`.
///
/// ```
/// use nanometrics::{Levels, Registry};
/// let levels = Levels {
///     prefix: "svc".into(),
///     namespace: "ns".into(),
///     component: "comp".into(),
///     endpoint: "ep".into(),
/// };
/// let r = Registry::new();
/// let ns = levels.namespace(&r, "prod")?;
/// let ep = levels.endpoint(&levels.component(&ns, "router")?, "generate")?;
/// ep.counter("requests_total", "Requests.")?.inc();
/// let snap = r.snapshot();
/// assert_eq!(snap.families[0].name, "svc_requests_total");
/// assert_eq!(
///     snap.families[0].series[0].labels.iter().collect::<Vec<_>>(),
///     [("ns", "prod"), ("comp", "router"), ("ep", "generate")]
/// );
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Levels {
    /// The name prefix of every metric under a namespace (`""`: none).
    pub prefix: String,
    /// The namespace level's label.
    pub namespace: String,
    /// The component level's label.
    pub component: String,
    /// The endpoint level's label.
    pub endpoint: String,
}

impl Default for Levels {
    fn default() -> Self {
        Levels {
            prefix: "dynamo_component".into(),
            namespace: "dynamo_namespace".into(),
            component: "dynamo_component".into(),
            endpoint: "dynamo_endpoint".into(),
        }
    }
}

impl Levels {
    /// The namespace `name` under `registry`: a sub-registry with the
    /// prefix and the namespace label.
    pub fn namespace(&self, registry: &Registry, name: &str) -> Result<Registry, Error> {
        self.level(registry, &self.prefix, &self.namespace, name, None)
    }

    /// The component `name` of the namespace `registry`.
    pub fn component(&self, registry: &Registry, name: &str) -> Result<Registry, Error> {
        self.level(registry, "", &self.component, name, Some(&self.namespace))
    }

    /// The endpoint `name` of the component `registry`.
    pub fn endpoint(&self, registry: &Registry, name: &str) -> Result<Registry, Error> {
        self.level(registry, "", &self.endpoint, name, Some(&self.component))
    }

    fn level(
        &self,
        registry: &Registry,
        prefix: &str,
        label: &str,
        name: &str,
        parent: Option<&str>,
    ) -> Result<Registry, Error> {
        if name.is_empty() {
            return Err(Error::InvalidValue(format!(
                "the {label} level needs a name, not an empty one"
            )));
        }
        if let Some(parent) = parent {
            if !registry.const_labels().any(|(k, _)| k == parent) {
                return Err(Error::LabelMismatch(format!(
                    "{label}={name:?} goes under a registry with {parent:?} (the level above it), which this one lacks"
                )));
            }
        }
        registry.sub_registry(prefix, &[(label, name)])
    }
}

impl Registry {
    /// The namespace `name` of the runtime (the default [`Levels`]: prefix
    /// `dynamo_component`, label `dynamo_namespace`).
    ///
    /// ```
    /// use nanometrics::Registry;
    /// let root = Registry::new();
    /// let ep = root.namespace("prod")?.component("router")?.endpoint("generate")?;
    /// ep.counter("requests_total", "Requests.")?.inc();
    /// // Registered once, seen from every level above.
    /// for r in [&root, &root.namespace("prod")?] {
    ///     let snap = r.snapshot();
    ///     assert_eq!(snap.families[0].name, "dynamo_component_requests_total");
    ///     assert_eq!(snap.families[0].series[0].labels.get("dynamo_endpoint"), Some("generate"));
    /// }
    /// // A label of a level cannot be a metric's own.
    /// let err = ep.counter_family("jobs_total", "Jobs.", &["dynamo_namespace"]).unwrap_err();
    /// assert!(err.to_string().contains("dynamo_namespace=\"prod\""));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn namespace(&self, name: &str) -> Result<Registry, Error> {
        Levels::default().namespace(self, name)
    }

    /// The component `name` of this namespace (label `dynamo_component`).
    /// A registry without the namespace label is an error.
    ///
    /// ```
    /// let root = nanometrics::Registry::new();
    /// assert!(root.component("router").is_err());
    /// assert!(root.namespace("prod")?.component("router").is_ok());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn component(&self, name: &str) -> Result<Registry, Error> {
        Levels::default().component(self, name)
    }

    /// The endpoint `name` of this component (label `dynamo_endpoint`).
    /// A registry without the component label is an error.
    ///
    /// ```
    /// let ns = nanometrics::Registry::new().namespace("prod")?;
    /// assert!(ns.endpoint("generate").is_err());
    /// assert!(ns.component("router")?.endpoint("generate").is_ok());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn endpoint(&self, name: &str) -> Result<Registry, Error> {
        Levels::default().endpoint(self, name)
    }
}
