//! Account and container listings (JSON format, paged with `marker`).

use serde::{Deserialize, Serialize};

use super::swift::{encode_component, object_path, Client, SwiftError};

/// Rows asked for per listing request.
const PAGE: usize = 10_000;

/// One row of a container listing.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ObjectEntry {
    /// Object name (or `subdir` with a delimiter).
    #[serde(default)]
    pub name: String,
    /// MD5 ETag.
    #[serde(default)]
    pub hash: String,
    /// Size in bytes.
    #[serde(default)]
    pub bytes: u64,
    /// Content type.
    #[serde(default)]
    pub content_type: String,
    /// Last modified.
    #[serde(default)]
    pub last_modified: String,
    /// A pseudo-directory (delimiter listings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdir: Option<String>,
}

/// One row of an account listing.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ContainerEntry {
    /// Container name.
    pub name: String,
    /// Objects in it.
    #[serde(default)]
    pub count: u64,
    /// Bytes in it.
    #[serde(default)]
    pub bytes: u64,
}

/// Every object of `container` whose name starts with `prefix` (all of
/// them, page after page), optionally rolled up at `delimiter`.
pub async fn list_objects(
    client: &mut Client,
    container: &str,
    prefix: &str,
    delimiter: Option<&str>,
) -> Result<Vec<ObjectEntry>, SwiftError> {
    let mut out: Vec<ObjectEntry> = Vec::new();
    loop {
        let mut q = format!("?format=json&limit={PAGE}");
        if !prefix.is_empty() {
            q.push_str(&format!("&prefix={}", encode_component(prefix)));
        }
        if let Some(d) = delimiter {
            q.push_str(&format!("&delimiter={}", encode_component(d)));
        }
        if let Some(last) = out.last() {
            let m = last.subdir.as_deref().unwrap_or(&last.name);
            q.push_str(&format!("&marker={}", encode_component(m)));
        }
        let path = format!("{}{q}", object_path(container, None));
        let page: Vec<ObjectEntry> = get_json(client, &path).await?;
        let n = page.len();
        out.extend(page);
        if n < PAGE {
            return Ok(out);
        }
    }
}

/// Every container of the account.
pub async fn list_containers(
    client: &mut Client,
    prefix: &str,
) -> Result<Vec<ContainerEntry>, SwiftError> {
    let mut out: Vec<ContainerEntry> = Vec::new();
    loop {
        let mut q = format!("?format=json&limit={PAGE}");
        if !prefix.is_empty() {
            q.push_str(&format!("&prefix={}", encode_component(prefix)));
        }
        if let Some(last) = out.last() {
            q.push_str(&format!("&marker={}", encode_component(&last.name)));
        }
        let page: Vec<ContainerEntry> = get_json(client, &q).await?;
        let n = page.len();
        out.extend(page);
        if n < PAGE {
            return Ok(out);
        }
    }
}

/// GETs `path` and parses its JSON body (204 means an empty list).
pub async fn get_json<T: serde::de::DeserializeOwned + Default>(
    client: &mut Client,
    path: &str,
) -> Result<T, SwiftError> {
    let r = client.simple("GET", path, &[]).await?;
    if r.status() == 204 {
        return Ok(T::default());
    }
    if !r.ok() {
        return Err(SwiftError::Status {
            method: "GET".into(),
            path: path.into(),
            status: r.status(),
            body: String::from_utf8_lossy(&r.body[..r.body.len().min(200)])
                .trim()
                .to_string(),
        });
    }
    serde_json::from_slice(&r.body)
        .map_err(|e| SwiftError::Invalid(format!("GET {path}: bad JSON: {e}")))
}
