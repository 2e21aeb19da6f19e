//! `GET /info`: the capabilities document clients read to discover what the
//! cluster supports. Only what paco implements is published.

use crate::config::Config;

/// Builds the `/info` JSON once at start-up.
pub fn info_document(config: &Config) -> String {
    let c = &config.constraints;
    let slo = crate::proxy::mw::slo::Slo::default();
    let doc = serde_json::json!({
        "swift": {
            "version": env!("CARGO_PKG_VERSION"),
            "max_file_size": c.max_file_size,
            "max_meta_name_length": c.max_meta_name_length,
            "max_meta_value_length": c.max_meta_value_length,
            "max_meta_count": c.max_meta_count,
            "max_meta_overall_size": c.max_meta_overall_size,
            "max_header_size": c.max_header_size,
            "max_object_name_length": c.max_object_name_length,
            "container_listing_limit": c.container_listing_limit,
            "account_listing_limit": c.account_listing_limit,
            "max_account_name_length": c.max_account_name_length,
            "max_container_name_length": c.max_container_name_length,
            "extra_header_count": c.extra_header_count,
            "valid_api_versions": c.valid_api_versions,
            "auto_create_account_prefix": c.auto_create_account_prefix,
            "strict_cors_mode": true,
            "allow_account_management": true,
            "account_autocreate": true,
            "allow_open_expired": false,
            "policies": config
                .storage_policies()
                .unwrap_or_default()
                .info(),
        },
        "tempauth": {"account_acls": true},
        "tempurl": config.tempurl.info(),
        "formpost": config.formpost.info(),
        "bulk_delete": config.bulk.delete_info(),
        "bulk_upload": config.bulk.upload_info(),
        "container_quotas": {},
        "staticweb": {},
        "account_quotas": {},
        "slo": {
            "max_manifest_segments": slo.max_manifest_segments,
            "max_manifest_size": slo.max_manifest_size,
            "yield_frequency": 10,
            "min_segment_size": 1,
            "allow_async_delete": false,
        },
        "versioned_writes": {
            "allowed_flags": ["x-versions-location", "x-history-location"],
        },
        "object_versioning": {},
        "symlink": {
            "symloop_max": crate::proxy::mw::symlink::DEFAULT_SYMLOOP_MAX,
            "static_links": true,
        },
    });
    doc.to_string()
}
