//! Well-known annotation keys.

/// Location ref of the place the entity was read from (set by the catalog).
pub const ANNOTATION_LOCATION: &str = "backstage.io/managed-by-location";
/// Location ref of the registered (root) location that led to this entity.
pub const ANNOTATION_ORIGIN_LOCATION: &str = "backstage.io/managed-by-origin-location";
/// Location ref of the entity's source, e.g. the repository folder (ends in `/`).
pub const ANNOTATION_SOURCE_LOCATION: &str = "backstage.io/source-location";
/// URL for "view source" links.
pub const ANNOTATION_VIEW_URL: &str = "backstage.io/view-url";
/// URL for "edit" links.
pub const ANNOTATION_EDIT_URL: &str = "backstage.io/edit-url";
/// Set to `"true"` by the catalog on orphaned entities.
pub const ANNOTATION_ORPHAN: &str = "backstage.io/orphan";
/// Location of the entity's TechDocs (commonly `dir:.`).
pub const ANNOTATION_TECHDOCS_REF: &str = "backstage.io/techdocs-ref";
/// Deprecated here: belongs to the Kubernetes plugin.
pub const ANNOTATION_KUBERNETES_API_SERVER: &str = "kubernetes.io/api-server";
/// Deprecated here: belongs to the Kubernetes plugin.
pub const ANNOTATION_KUBERNETES_API_SERVER_CA: &str =
    "kubernetes.io/api-server-certificate-authority";
/// Deprecated here: belongs to the Kubernetes plugin.
pub const ANNOTATION_KUBERNETES_AUTH_PROVIDER: &str = "kubernetes.io/auth-provider";

/// The six annotations Backstage's default model declares.
pub const DEFAULT_MODEL_ANNOTATIONS: &[&str] = &[
    ANNOTATION_LOCATION,
    ANNOTATION_ORIGIN_LOCATION,
    ANNOTATION_SOURCE_LOCATION,
    ANNOTATION_ORPHAN,
    ANNOTATION_VIEW_URL,
    ANNOTATION_EDIT_URL,
];

/// The value the catalog writes over `view-url`/`edit-url` annotations that hold a
/// `javascript:` URL.
pub const REJECTED_ANNOTATION_URL: &str =
    "https://backstage.io/annotation-rejected-for-security-reasons";
